import { isPair, isScalar, isSeq, parseDocument, visit, type Scalar } from 'yaml';

/**
 * Redaction for the support bundle, which leaves the site for remote help. Three layers, because
 * one missed shape would leak: keys known to hold secrets, values that look like secrets wherever
 * they are, and finally every secret string collected on the way scrubbed from all text.
 */
export const SECRET_KEYS = new Set(['secretHash', 'passwordHash', 'password', 'secret', 'token', 'apiToken', 'key', 'privateKey', 'passphrase', 'authorization', 'cookie']);
/** Personal data (一标三实) stays on the gateway: support needs the shape, not the people. */
export const PERSONAL_KEYS = new Set(['name', 'cards', 'plates', 'cardNo', 'plate', 'feature', 'phone', 'idNumber', 'value']);
/** Where PERSONAL_KEYS apply in the site file (a device's or gate's name is not personal). */
const PERSONAL_SECTIONS = ['registry', 'watchlist'];
/** In logs, only these keys carry personal data; "name" there is the logger's name. */
const PERSONAL_LOG_KEYS = new Set(['cards', 'plates', 'cardNo', 'plate', 'feature', 'phone', 'idNumber', 'personName']);

export const REDACTED = '[redacted]';
export const PERSONAL = '[personal data removed]';

/** Card numbers and plates inside messages, e.g. "重点人员(卡号 66660001)", "车牌 闽A·88888". */
const PERSONAL_IN_TEXT = /(卡号|card(?:No)?|车牌|plate)([ \t]*[:：=]?[ \t]*)([A-Za-z0-9\u4e00-\u9fa5·-]{3,20})/gi;
const CHINESE_PLATE = /[\u4e00-\u9fa5][A-Z]·?[A-Z0-9]{5,6}/g;
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const SECRET_VALUE = /scrypt\$[^\s"',}]*|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@"']+):([^\s@/"']+)@/gi;

export class Redactor {
  /** Every secret string met so far; scrubbed from all later text (logs, status). */
  private readonly literals = new Set<string>();
  /** Names, cards and plates from the registry and watchlist; scrubbed as whole words from all text. */
  private readonly personal = new Set<string>();

  addSecret(value: string | null | undefined): void {
    if (value && value.length >= 6) this.literals.add(value);
  }

  addPersonal(value: unknown): void {
    if (typeof value === 'string' || typeof value === 'number') {
      const text = String(value).trim();
      if (text.length >= 2) this.personal.add(text);
    }
  }

  /** Redacts loose text: secret-looking values, URL passwords, personal data, and every literal collected. */
  text(input: string): string {
    let out = input.replace(SECRET_VALUE, (m) => {
      this.addSecret(m);
      return REDACTED;
    });
    out = out.replace(URL_PASSWORD, (_m, head: string, password: string) => {
      this.addSecret(password);
      return `${head}:${REDACTED}@`;
    });
    for (const literal of [...this.literals].sort((a, b) => b.length - a.length)) out = out.split(literal).join(REDACTED);
    // Whole words only: a four-digit card must not eat the digits of a timestamp.
    for (const value of [...this.personal].sort((a, b) => b.length - a.length))
      out = out.replace(new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(value)}(?![A-Za-z0-9])`, 'g'), PERSONAL);
    out = out.replace(PERSONAL_IN_TEXT, (_m, label: string, sep: string) => `${label}${sep}${PERSONAL}`);
    out = out.replace(CHINESE_PLATE, PERSONAL);
    return out;
  }

  /** Redacts a parsed JSON value (a log line, the status): secret keys, personal keys, then text. */
  value(input: unknown, personalKeys: Set<string> = PERSONAL_LOG_KEYS): unknown {
    if (typeof input === 'string') return this.text(input);
    if (Array.isArray(input)) return input.map((v) => this.value(v, personalKeys));
    if (input && typeof input === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(input)) {
        if (SECRET_KEYS.has(k) && v !== null && v !== undefined && typeof v !== 'boolean') {
          if (typeof v === 'string') this.addSecret(v);
          out[k] = REDACTED;
        } else if (personalKeys.has(k) && v !== null && v !== undefined) out[k] = PERSONAL;
        else out[k] = this.value(v, personalKeys);
      }
      return out;
    }
    return input;
  }

  /** A log file: JSON lines are redacted structurally, other lines as text. */
  logLines(lines: string[]): string[] {
    // A private key printed across lines is caught from its BEGIN line to its END line.
    let inKey = false;
    return lines.map((line) => {
      if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(line) && !/-----END [A-Z ]*PRIVATE KEY-----/.test(line)) inKey = true;
      if (inKey) {
        if (/-----END [A-Z ]*PRIVATE KEY-----/.test(line)) inKey = false;
        return REDACTED;
      }
      const trimmed = line.trim();
      if (trimmed.startsWith('{')) {
        try {
          return JSON.stringify(this.value(JSON.parse(trimmed)));
        } catch {
          /* not JSON after all */
        }
      }
      return this.text(line);
    });
  }

  /**
   * The site file with its comments, redacted in place through the yaml Document API: secret
   * keys anywhere, personal data under registry and watchlist, and secret-looking scalars.
   */
  siteFile(text: string): string {
    const doc = parseDocument(text);
    visit(doc, {
      Pair: (_key, pair, path) => {
        if (!isPair(pair) || !isScalar(pair.key)) return;
        const key = String(pair.key.value);
        const top = path.find((node) => isPair(node) && isScalar(node.key));
        const section = top && isPair(top) && isScalar(top.key) ? String(top.key.value) : '';
        const personal = PERSONAL_SECTIONS.includes(section) && PERSONAL_KEYS.has(key);
        if (!SECRET_KEYS.has(key) && !personal) return;
        const replacement = SECRET_KEYS.has(key) ? REDACTED : PERSONAL;
        if (isScalar(pair.value)) {
          if (SECRET_KEYS.has(key) && typeof pair.value.value === 'string') this.addSecret(pair.value.value);
          if (personal) this.addPersonal(pair.value.value);
          (pair.value as Scalar).value = replacement;
        } else if (isSeq(pair.value)) {
          for (const item of pair.value.items) if (isScalar(item)) {
            if (SECRET_KEYS.has(key) && typeof item.value === 'string') this.addSecret(item.value);
            if (personal) this.addPersonal(item.value);
            item.value = replacement;
          }
        }
      },
      Scalar: (_key, node) => {
        if (typeof node.value === 'string') {
          const redacted = this.text(node.value);
          if (redacted !== node.value) node.value = redacted;
        }
      },
    });
    // Comments are kept for context; a secret pasted into one is caught by the text pass.
    return this.text(doc.toString({ lineWidth: 0 }));
  }
}
