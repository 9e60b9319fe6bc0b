const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hour12: false, weekday: 'short', hour: '2-digit', minute: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** Local wall-clock parts of an instant in a time zone: ISO weekday (1 = Monday) and minutes since midnight. */
export function localParts(ms: number, timeZone = 'Asia/Shanghai'): { weekday: number; minutes: number; hhmm: string } {
  let weekday = 1;
  let hour = 0;
  let minute = 0;
  for (const part of formatter(timeZone).formatToParts(ms)) {
    if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? 1;
    else if (part.type === 'hour') hour = Number(part.value) % 24;
    else if (part.type === 'minute') minute = Number(part.value);
  }
  const hhmm = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
  return { weekday, minutes: hour * 60 + minute, hhmm };
}

/** "22:41" in the site's time zone, for alert messages. */
export function hhmm(ms: number, timeZone = 'Asia/Shanghai'): string {
  return localParts(ms, timeZone).hhmm;
}
