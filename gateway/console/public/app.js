// gridguard guard-room console: plain ES modules, no build step, no third-party code.
import { TEXTS, EVENT_TYPE_NAMES, RULE_NAMES, KIND_NAMES, RELATION_NAMES } from './i18n.js';

const STATUSES = ['new', 'acknowledged', 'dispatched', 'resolved', 'false-alarm'];
const SEVERITIES = ['critical', 'high', 'medium', 'low'];
const CATEGORIES = ['police', 'property', 'care'];
const NEXT = { new: ['acknowledged', 'dispatched', 'resolved', 'false-alarm'], acknowledged: ['dispatched', 'resolved', 'false-alarm'], dispatched: ['resolved', 'false-alarm'], resolved: [], 'false-alarm': [] };
const ACTION_OF = { acknowledged: 'acknowledge', dispatched: 'dispatch', resolved: 'resolve', 'false-alarm': 'false-alarm' };

const state = {
  lang: localStorage.getItem('gg.lang') || null,
  sound: localStorage.getItem('gg.sound') !== 'off',
  me: null,
  site: null,
  alerts: new Map(),
  filters: { status: 'open', severity: '', category: '' },
  stream: null,
  lastSeq: sessionStorage.getItem('gg.lastSeq'),
  eventsPage: [],
};

// ---------- helpers ----------
const $ = (sel) => document.querySelector(sel);
const t = (key) => (TEXTS[state.lang] || TEXTS['zh-CN'])[key] ?? TEXTS['zh-CN'][key] ?? key;
const zh = () => state.lang !== 'en';

/** Builds DOM with text nodes only: device-supplied text never becomes markup. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

function fmtTime(iso) {
  if (!iso) return t('never');
  return new Date(iso).toLocaleString(zh() ? 'zh-CN' : 'en-GB', { timeZone: state.site?.timeZone, hour12: false, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function toast(text) {
  const el = $('#toast');
  el.textContent = text;
  el.className = 'show';
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.className = ''), 3000);
}

async function api(path, options = {}) {
  const res = await fetch(path, { credentials: 'same-origin', ...options, headers: { ...(options.body ? { 'content-type': 'application/json' } : {}), ...(options.headers || {}) } });
  if (res.status === 401 && !path.startsWith('/api/auth/login')) {
    showLogin();
    throw new Error('login required');
  }
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text();
  if (!res.ok) throw Object.assign(new Error(body?.error || res.statusText), { status: res.status, body });
  return body;
}

const sevBadge = (s) => h('span', { class: `sev sev-${s}` }, t(`severity.${s}`));
const stBadge = (s) => h('span', { class: `st st-${s}`, 'data-status': s }, t(`status.${s}`));
const typeName = (type) => (EVENT_TYPE_NAMES[type] ? EVENT_TYPE_NAMES[type][zh() ? 0 : 1] : type);
const ruleName = (type) => (RULE_NAMES[type] ? RULE_NAMES[type][zh() ? 0 : 1] : type);
const kindName = (kind) => (KIND_NAMES[kind] ? KIND_NAMES[kind][zh() ? 0 : 1] : kind);
const relationName = (r) => (r && RELATION_NAMES[r] ? RELATION_NAMES[r][zh() ? 0 : 1] : (r ?? '—'));
const codesText = (c) => `${t('codes.address')} ${c.addressCode ?? '—'} · ${t('codes.grid')} ${c.communityGridCode} · ${t('codes.police')} ${c.policeGridCode}`;

function subjectText(subject) {
  if (!subject) return '—';
  const id = subject.identity;
  const refs = subject.refs || {};
  const ref = refs.cardNo ? `${t('ref.card')} ${refs.cardNo}` : refs.plate ? `${t('ref.plate')} ${refs.plate}` : refs.personId ? refs.personId : refs.faceId ? `face ${refs.faceId}` : '';
  if (!id) return ref || '—';
  return [t(`kind.${id.kind}`), id.name, id.watch ? `(${id.watch.reason})` : '', ref].filter(Boolean).join(' ');
}

/**
 * Evidence thumbnails are fetched once per alert per page load (then kept as object URLs), and only
 * for open alerts near the top of the board, so a busy board does not flood the gateway.
 */
const thumbs = new Map();
function thumbFor(a, index) {
  const have = thumbs.get(a.id);
  if (typeof have === 'string' && have.startsWith('blob:')) return h('img', { class: 'thumb', src: have, alt: '' });
  if (have === undefined && index < 50 && a.evidence.length && !['resolved', 'false-alarm'].includes(a.status)) {
    thumbs.set(a.id, 'loading');
    fetch(`/api/alerts/${encodeURIComponent(a.id)}/thumbnail`, { credentials: 'same-origin' })
      .then(async (res) => {
        if (!res.ok) return thumbs.set(a.id, 'none');
        thumbs.set(a.id, URL.createObjectURL(await res.blob()));
        const slot = document.querySelector(`.alert[data-id="${CSS.escape(a.id)}"] .thumb`);
        slot?.replaceWith(h('img', { class: 'thumb', src: thumbs.get(a.id), alt: '' }));
      })
      .catch(() => thumbs.set(a.id, 'none'));
  }
  return h('div', { class: 'thumb' }, ruleName(a.ruleType));
}

// ---------- sound ----------
let audio = null;
function beep(severity) {
  if (!state.sound) return;
  // A visible count of alert sounds played, for the browser tests (audio itself cannot be heard there).
  document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  try {
    audio ??= new AudioContext();
    const pattern = severity === 'critical' ? [0, 0.25, 0.5] : [0, 0.3];
    for (const start of pattern) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = severity === 'critical' ? 1046 : 880;
      gain.gain.setValueAtTime(0.25, audio.currentTime + start);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + start + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + start);
      osc.stop(audio.currentTime + start + 0.22);
    }
  } catch {
    /* no audio device in this browser */
  }
}

// ---------- chrome ----------
function applyTexts() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  $('#lang').textContent = t('lang');
  $('#sound').textContent = t(state.sound ? 'sound.on' : 'sound.off');
  document.title = `gridguard ${t('app.title')}`;
}

function setLive(on) {
  const el = $('#live');
  el.className = `live ${on ? 'on' : 'off'}`;
  el.dataset.t = on ? 'live.on' : 'live.off';
  el.textContent = t(el.dataset.t);
}

function renderNav() {
  const perms = new Set(state.me.permissions);
  const items = [
    ['alerts', 'alerts'], ['devices', 'devices'], ['commissioning', 'commands'], ['events', 'events'], ['people', 'people'], ['users', 'users'], ['audit', 'audit'], ['config', 'config'],
  ].filter(([, p]) => perms.has(p));
  const page = location.hash.replace(/^#\/?/, '').split('/')[0] || 'alerts';
  $('#nav').replaceChildren(...items.map(([name]) => h('a', { href: `#/${name}`, class: page === name ? 'on' : '' }, t(`nav.${name}`))));
  $('#community').textContent = state.site?.communityName ?? '';
  $('#who').textContent = `${state.me.user.displayName} · ${t(`role.${state.me.user.role}`)}`;
}

// ---------- login ----------
function showLogin(message = '') {
  state.stream?.close();
  state.stream = null;
  state.me = null;
  $('#top').hidden = true;
  const err = h('div', { class: 'error', id: 'login-error' }, message);
  const form = h('form', { class: 'login', id: 'login-form' },
    h('h1', {}, t('login.title')),
    h('label', { for: 'username' }, t('login.username')), h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true }),
    h('label', { for: 'password' }, t('login.password')), h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    h('button', { type: 'submit' }, t('login.submit')),
    err,
    h('p', { class: 'muted center mt' }, h('a', { href: '#', onclick: (e) => { e.preventDefault(); switchLang(); showLogin(); } }, t('lang'))),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      state.me = await api('/api/auth/login', { method: 'POST', body: JSON.stringify({ username: form.username.value, password: form.password.value }) });
      // The click that logged in lets the browser play the alert sound later.
      try { audio ??= new AudioContext(); } catch { /* no audio */ }
      await boot();
    } catch (error) {
      err.textContent = error.status === 429 ? t('login.limited') : t('login.failed');
    }
  });
  $('#main').replaceChildren(form);
  form.username.focus();
}

function switchLang() {
  state.lang = zh() ? 'en' : 'zh-CN';
  localStorage.setItem('gg.lang', state.lang);
  applyTexts();
}

// ---------- live alerts (SSE) ----------
function upsertAlert(alert) {
  const have = state.alerts.get(alert.id);
  if (have && (have.updatedAt > alert.updatedAt || (have.updatedAt === alert.updatedAt && have.transitions.length > alert.transitions.length))) return false;
  state.alerts.set(alert.id, alert);
  return true;
}

/**
 * Opens the stream first and loads the list once it is open: whatever is raised in between is
 * in the list, on the stream, or both (merged by id), so nothing is missed. After a dropped
 * connection the browser resends Last-Event-ID; after a reload the last seq comes from sessionStorage.
 */
function openStream() {
  if (state.stream) return;
  const url = '/api/alerts/stream' + (state.lastSeq ? `?lastEventId=${encodeURIComponent(state.lastSeq)}` : '');
  const es = new EventSource(url);
  state.stream = es;
  let loaded = false;
  es.addEventListener('open', async () => {
    setLive(true);
    if (loaded) return;
    loaded = true;
    try {
      const { alerts } = await api('/api/alerts?limit=300');
      for (const a of alerts) upsertAlert(a);
      renderIfOn('alerts');
    } catch { /* shown by the next attempt */ }
  });
  es.addEventListener('alert', (ev) => {
    state.lastSeq = ev.lastEventId;
    sessionStorage.setItem('gg.lastSeq', ev.lastEventId);
    const { change, alert } = JSON.parse(ev.data);
    const isNew = !state.alerts.has(alert.id);
    if (!upsertAlert(alert)) return;
    if (change === 'raised' && isNew && (alert.severity === 'critical' || alert.severity === 'high') && Date.now() - Date.parse(alert.raisedAt) < 120_000) {
      beep(alert.severity);
      toast(`${t('new.alert')}：${alert.message}`);
    }
    if (isNew) state.fresh.add(alert.id);
    renderIfOn('alerts');
    if (location.hash === `#/alerts/${alert.id}`) renderDetail(alert.id, false);
  });
  es.addEventListener('error', async () => {
    setLive(false);
    if (es.readyState === EventSource.CLOSED) {
      // Refused (session ended) rather than dropped: find out which.
      state.stream = null;
      try {
        await api('/api/auth/me');
        setTimeout(openStream, 2000);
      } catch (error) {
        // Logged out: the login form is showing. Anything else (gateway unreachable): keep trying.
        if (error.message !== 'login required') setTimeout(openStream, 3000);
      }
    }
  });
}
state.fresh = new Set();

function renderIfOn(page) {
  if ((location.hash.replace(/^#\/?/, '') || 'alerts') === page) route();
}

// ---------- pages ----------
function select(name, values, prefix, current, extra = []) {
  const el = h('select', { name, id: `filter-${name}` }, h('option', { value: '' }, t('all')), ...extra, ...values.map((v) => h('option', { value: v }, t(`${prefix}.${v}`))));
  el.value = current;
  el.addEventListener('change', () => {
    state.filters[name] = el.value;
    renderAlerts();
  });
  return el;
}

function renderAlerts() {
  const f = state.filters;
  const all = [...state.alerts.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  const shown = all.filter((a) =>
    (f.status === '' || (f.status === 'open' ? !['resolved', 'false-alarm'].includes(a.status) : a.status === f.status)) &&
    (!f.severity || a.severity === f.severity) && (!f.category || a.category === f.category));
  const open = all.filter((a) => !['resolved', 'false-alarm'].includes(a.status));
  const counts = h('div', { class: 'counts' }, `${t('open.count')}: `, ...SEVERITIES.map((s) => h('span', {}, sevBadge(s), ' ', open.filter((a) => a.severity === s).length)));
  const bar = h('div', { class: 'bar' },
    h('label', {}, t('filter.status'), select('status', STATUSES, 'status', f.status, [h('option', { value: 'open' }, t('open.count'))])),
    h('label', {}, t('filter.severity'), select('severity', SEVERITIES, 'severity', f.severity)),
    h('label', {}, t('filter.category'), select('category', CATEGORIES, 'category', f.category)),
    counts);
  const board = h('div', { class: 'board', id: 'board' }, shown.length ? shown.map((a, i) => alertCard(a, i)) : h('div', { class: 'empty' }, t('alerts.empty')));
  $('#main').replaceChildren(h('h1', {}, t('alerts.title')), bar, board);
  state.fresh.clear();
}

function alertCard(a, index) {
  const closed = ['resolved', 'false-alarm'].includes(a.status);
  const quick = a.status === 'new'
    ? h('button', { class: 'warn', 'data-action': 'acknowledge', onclick: async (e) => { e.stopPropagation(); await transition(a.id, 'acknowledged', ''); } }, t('acknowledge'))
    : null;
  return h('div', { class: `alert${closed ? ' closed' : ''}${state.fresh.has(a.id) ? ' fresh' : ''}`, 'data-id': a.id, 'data-severity': a.severity, 'data-status': a.status, onclick: () => (location.hash = `#/alerts/${a.id}`) },
    h('div', { class: `stripe sev-${a.severity}` }),
    thumbFor(a, index),
    h('div', {},
      h('div', { class: 'msg' }, sevBadge(a.severity), ' ', a.message),
      h('div', { class: 'meta' },
        h('span', {}, fmtTime(a.raisedAt)),
        h('span', {}, t('field.place'), '：', a.place.label),
        h('span', { class: 'codes' }, codesText(a.codes)),
        h('span', {}, t('field.subject'), '：', subjectText(a.subject)),
        a.occurrences > 1 ? h('span', {}, `×${a.occurrences}`) : null)),
    h('div', { class: 'side' }, stBadge(a.status), h('span', { class: 'muted' }, t(`category.${a.category}`)), quick));
}

async function transition(id, to, note) {
  try {
    const { alert } = await api(`/api/alerts/${encodeURIComponent(id)}/transition`, { method: 'POST', body: JSON.stringify({ to, ...(note ? { note } : {}) }) });
    upsertAlert(alert);
    toast(`${t(`status.${to}`)} ✓`);
    route();
  } catch (error) {
    toast(`${t('error.generic')}: ${error.message}`);
  }
}

async function renderDetail(id, audit = true) {
  let data;
  try {
    data = await api(`/api/alerts/${encodeURIComponent(id)}`);
  } catch (error) {
    $('#main').replaceChildren(h('p', { class: 'error' }, error.message));
    return;
  }
  void audit;
  const a = data.alert;
  upsertAlert(a);
  const note = h('textarea', { id: 'note', placeholder: t('note.placeholder') });
  const actions = NEXT[a.status].map((to) =>
    h('button', { class: to === 'resolved' ? 'ok' : to === 'false-alarm' ? 'ghost' : 'warn', 'data-action': ACTION_OF[to], onclick: async () => {
      if ((to === 'resolved' || to === 'false-alarm') && !note.value.trim()) {
        toast(t('note.required'));
        note.focus();
        return;
      }
      await transition(a.id, to, note.value.trim());
    } }, t(ACTION_OF[to])));
  const timeline = h('ol', { class: 'timeline', id: 'timeline' }, a.transitions.map((tr) =>
    h('li', { 'data-to': tr.to }, h('div', {}, stBadge(tr.to), ' ', fmtTime(tr.at), ' · ', t('field.by'), ' ', tr.by, ' ', h('span', { class: 'muted' }, `(${t(`source.${tr.source}`)})`)),
      tr.note ? h('div', { class: 'note' }, tr.note) : null)));
  const evidence = data.evidence.length
    ? h('table', {}, h('tr', {}, h('th', {}, t('field.time')), h('th', {}, t('field.device')), h('th', {}, t('field.type')), h('th', {}, t('field.subject')), h('th', {}, t('field.image'))),
        data.evidence.map((e) => h('tr', {}, h('td', {}, fmtTime(e.receivedAt)), h('td', {}, e.deviceId), h('td', {}, typeName(e.type)), h('td', {}, subjectText({ refs: e.subjects, identity: e.identity })),
          h('td', {}, typeof e.payload?.imageId === 'string' ? h('img', { class: 'thumb', src: `/api/images/${encodeURIComponent(e.payload.imageId)}?why=${encodeURIComponent('alert ' + a.id)}`, alt: '' }) : '—'))))
    : h('p', { class: 'muted' }, '—');
  $('#main').replaceChildren(
    h('p', {}, h('a', { href: '#/alerts' }, t('back'))),
    h('h1', {}, sevBadge(a.severity), ' ', a.message, ' ', stBadge(a.status)),
    h('div', { class: 'grid2' },
      h('div', { class: 'panel' }, h('dl', {},
        h('dt', {}, t('field.time')), h('dd', {}, fmtTime(a.raisedAt)),
        h('dt', {}, t('field.place')), h('dd', {}, a.place.label),
        h('dt', {}, t('field.codes')), h('dd', { class: 'codes' }, codesText(a.codes)),
        h('dt', {}, t('field.subject')), h('dd', {}, subjectText(a.subject)),
        h('dt', {}, t('field.device')), h('dd', {}, a.deviceId ?? '—'),
        h('dt', {}, t('field.rule')), h('dd', {}, `${ruleName(a.ruleType)} (${a.ruleId}) · ${t(`category.${a.category}`)}`),
        h('dt', {}, t('field.occurrences')), h('dd', {}, a.occurrences))),
      h('div', { class: 'panel' }, h('h2', { class: 'mt0' }, t('detail.actions')),
        actions.length ? [h('label', { for: 'note', class: 'muted' }, t('note')), note, h('div', { class: 'bar mt' }, actions)] : h('p', { class: 'muted' }, stBadge(a.status)))),
    h('div', { class: 'panel' }, h('h2', { class: 'mt0' }, t('detail.timeline')), timeline),
    h('h2', {}, t('detail.evidence')), evidence);
}

async function renderDevices() {
  const { devices } = await api('/api/devices');
  const site = state.site;
  const groups = [];
  for (const g of site.gates) groups.push([g.name, devices.filter((d) => d.place.gate === g.id)]);
  for (const b of site.buildings) groups.push([b.name, devices.filter((d) => d.place.building === b.id && !d.place.gate)]);
  const placed = new Set(groups.flatMap(([, ds]) => ds.map((d) => d.id)));
  groups.push([t('devices.other'), devices.filter((d) => !placed.has(d.id))]);
  const online = devices.filter((d) => d.online).length;
  const row = (d) => {
    const errs = [d.info?.error, d.info?.fault, d.link?.detail, d.link?.framesBad ? `${t('devices.badFrames')} ${d.link.framesBad}` : null].filter(Boolean).join('; ');
    const battery = d.info?.battery ?? d.info?.batteryPercent;
    return h('tr', { 'data-device': d.id, 'data-online': String(d.online) },
      h('td', {}, h('span', { class: `dot ${d.online ? 'on' : 'off'}` }), d.online ? t('devices.online') : t('devices.offline')),
      h('td', {}, d.name, d.name !== d.id ? h('div', { class: 'muted' }, d.id) : null), h('td', {}, d.place.label), h('td', {}, kindName(d.kind)), h('td', {}, d.transport),
      h('td', {}, fmtTime(d.lastSeen)), h('td', { class: battery !== undefined && battery < 20 ? 'error' : '' }, battery === undefined ? '—' : `${battery}%`), h('td', {}, errs || '—'));
  };
  const head = h('tr', {}, ...['field.status', 'field.device', 'field.place', 'devices.kind', 'devices.transport', 'devices.lastSeen', 'devices.battery', 'devices.errors'].map((k) => h('th', {}, t(k))));
  $('#main').replaceChildren(
    h('h1', {}, t('devices.title'), ' ', h('span', { class: 'muted' }, `${online} / ${devices.length} ${t('devices.online')}`)),
    ...groups.filter(([, ds]) => ds.length).map(([name, ds]) => [h('h2', {}, name), h('table', { class: 'fixed' }, head.cloneNode(true), ds.map(row))]).flat());
}

async function renderEvents(cursor = null) {
  const form = state.eventsForm ?? (state.eventsForm = { from: '', to: '', device: '', type: '', subject: '' });
  const query = () => {
    const p = new URLSearchParams();
    if (form.from) p.set('from', new Date(form.from).toISOString());
    if (form.to) p.set('to', new Date(form.to).toISOString());
    for (const k of ['device', 'type', 'subject']) if (form[k]) p.set(k, form[k]);
    return p;
  };
  const p = query();
  p.set('limit', '50');
  if (cursor) p.set('before', cursor);
  const { events, next } = await api(`/api/events?${p}`);
  const input = (name, type, label) => {
    const el = h('input', { name, type, value: form[name], id: `ev-${name}`, placeholder: label });
    el.addEventListener('change', () => (form[name] = el.value));
    return h('label', {}, label, el);
  };
  const typeSel = h('select', { name: 'type', id: 'ev-type' }, h('option', { value: '' }, t('all')), Object.keys(EVENT_TYPE_NAMES).map((k) => h('option', { value: k }, typeName(k))));
  typeSel.value = form.type;
  typeSel.addEventListener('change', () => (form.type = typeSel.value));
  const bar = h('form', { class: 'bar', id: 'events-form', onsubmit: (e) => { e.preventDefault(); state.eventsPage = []; renderEvents(); } },
    input('from', 'datetime-local', t('events.from')), input('to', 'datetime-local', t('events.to')), input('device', 'text', t('field.device')),
    h('label', {}, t('field.type'), typeSel), input('subject', 'text', t('events.subject')), h('button', { type: 'submit' }, t('search')),
    h('button', { type: 'button', class: 'ghost', onclick: () => {
      const reason = prompt(t('export.reason'));
      if (!reason || reason.trim().length < 2) return;
      const q = query();
      q.set('reason', reason.trim());
      location.href = `/api/events/export?${q}`;
    } }, t('events.export')));
  const table = events.length
    ? h('table', { id: 'events' }, h('tr', {}, ...['field.time', 'field.device', 'field.place', 'field.type', 'field.subject'].map((k) => h('th', {}, t(k)))),
        events.map((e) => h('tr', {}, h('td', {}, fmtTime(e.receivedAt)), h('td', {}, e.deviceId), h('td', {}, e.place.label), h('td', {}, typeName(e.type)), h('td', {}, subjectText({ refs: e.subjects, identity: e.identity })))))
    : h('div', { class: 'empty' }, t('events.empty'));
  const pager = h('div', { class: 'bar mt' },
    h('button', { class: 'ghost', disabled: state.eventsPage.length === 0, onclick: () => renderEvents(state.eventsPage.pop() ?? null) }, t('events.prev')),
    h('button', { class: 'ghost', disabled: events.length < 50, onclick: () => { state.eventsPage.push(cursor); renderEvents(next); } }, t('events.next')));
  $('#main').replaceChildren(h('h1', {}, t('events.title')), bar, table, pager);
}

async function renderPeople(tab = 'watchlist') {
  const tabs = h('div', { class: 'tabs' }, ['watchlist', 'care'].map((k) => h('button', { class: k === tab ? '' : 'ghost', onclick: () => renderPeople(k) }, t(`people.${k}`))));
  let body;
  if (tab === 'watchlist') {
    const { watchlist } = await api(`/api/people/watchlist?why=${encodeURIComponent('people page')}`);
    body = h('table', { id: 'watchlist' }, h('tr', {}, ...['people.subject', 'people.level', 'people.reason', 'people.valid'].map((k) => h('th', {}, t(k)))),
      watchlist.map((w) => h('tr', {}, h('td', {}, `${w.subjectType}: ${w.subjectValue}`), h('td', {}, sevBadge(w.level)), h('td', {}, w.reason),
        h('td', {}, w.validToMs ? `→ ${fmtTime(new Date(w.validToMs).toISOString())}` : '—'))));
  } else {
    const { people } = await api(`/api/people/care?why=${encodeURIComponent('people page')}`);
    body = h('table', { id: 'care' }, h('tr', {}, ...['people.name', 'people.house', 'codes.address', 'people.relation'].map((k) => h('th', {}, t(k)))),
      people.map((p) => h('tr', {}, h('td', {}, h('a', { href: '#', onclick: (e) => { e.preventDefault(); showPerson(p.id); } }, p.name)), h('td', {}, p.houses.map((x) => x.label).join('，')),
        h('td', { class: 'codes' }, p.houses.map((x) => x.addressCode ?? '—').join(', ')), h('td', {}, relationName(p.relation)))));
  }
  $('#main').replaceChildren(h('h1', {}, t('people.title')), h('p', { class: 'muted' }, t('people.audited')), tabs, body, h('div', { id: 'person' }));
}

async function showPerson(id) {
  const { person } = await api(`/api/people/${encodeURIComponent(id)}?why=${encodeURIComponent('care list')}`);
  $('#person').replaceChildren(h('div', { class: 'panel mt' }, h('h2', { class: 'mt0' }, t('people.detail'), '：', person.name),
    h('dl', {}, h('dt', {}, t('people.house')), h('dd', {}, person.houses.map((x) => `${x.label} (${x.addressCode ?? '—'})`).join('，')),
      h('dt', {}, t('people.relation')), h('dd', {}, relationName(person.relation)),
      h('dt', {}, t('people.credentials')), h('dd', {}, person.credentials.map((c) => `${c.type}: ${c.value}`).join('，') || '—'))));
}

async function renderUsers() {
  const { users } = await api('/api/users');
  const form = h('form', { class: 'bar panel', id: 'user-form' },
    h('input', { name: 'username', placeholder: t('users.username'), required: true }), h('input', { name: 'displayName', placeholder: t('users.display') }),
    h('select', { name: 'role' }, ['guard', 'installer', 'admin'].map((r) => h('option', { value: r }, t(`role.${r}`)))),
    h('input', { name: 'password', type: 'password', placeholder: t('users.password'), required: true, autocomplete: 'new-password' }),
    h('button', { type: 'submit' }, t('users.create')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('/api/users', { method: 'POST', body: JSON.stringify({ username: form.username.value, displayName: form.displayName.value || undefined, role: form.role.value, password: form.password.value }) });
      toast(t('saved'));
      renderUsers();
    } catch (error) { toast(`${t('error.generic')}: ${error.message}`); }
  });
  const patch = async (id, body) => {
    try { await api(`/api/users/${id}`, { method: 'PATCH', body: JSON.stringify(body) }); toast(t('saved')); renderUsers(); } catch (error) { toast(`${t('error.generic')}: ${error.message}`); }
  };
  $('#main').replaceChildren(h('h1', {}, t('users.title')), form,
    h('table', { id: 'users' }, h('tr', {}, ...['users.username', 'users.display', 'users.role', 'field.status', 'detail.actions'].map((k) => h('th', {}, t(k)))),
      users.map((u) => h('tr', {}, h('td', {}, u.username), h('td', {}, u.displayName), h('td', {}, t(`role.${u.role}`)), h('td', {}, u.disabled ? t('users.disabled') : t('users.active')),
        h('td', {}, h('button', { class: 'ghost', onclick: () => patch(u.id, { disabled: !u.disabled }) }, u.disabled ? t('users.enable') : t('users.disable')), ' ',
          h('button', { class: 'ghost', onclick: () => { const p = prompt(t('users.newPassword')); if (p) patch(u.id, { password: p }); } }, t('users.reset')))))));
}

async function renderAudit() {
  const { entries, chain } = await api('/api/audit?limit=200');
  $('#main').replaceChildren(h('h1', {}, t('audit.title')),
    h('p', { class: chain.ok ? 'muted' : 'error' }, chain.ok ? `${t('audit.chainOk')} · ${chain.rows}` : `${t('audit.chainBad')}${chain.brokenAt}`),
    h('table', { id: 'audit' }, h('tr', {}, ...['field.time', 'audit.actor', 'audit.action', 'audit.target', 'audit.reason'].map((k) => h('th', {}, t(k)))),
      entries.map((e) => h('tr', {}, h('td', {}, fmtTime(e.at)), h('td', {}, `${e.actor} (${e.role ?? '—'})`), h('td', {}, e.action), h('td', {}, e.target), h('td', {}, e.reason ?? '—')))));
}

async function renderConfig() {
  const { config } = await api('/api/config');
  $('#main').replaceChildren(h('h1', {}, t('config.title')), h('p', { class: 'muted' }, t('config.note')), h('pre', { class: 'panel', id: 'config' }, JSON.stringify(config, null, 2)));
}

// ---------- router ----------
async function route() {
  if (!state.me) return;
  renderNav();
  const [page, id] = location.hash.replace(/^#\/?/, '').split('/');
  const perms = new Set(state.me.permissions);
  const first = ['alerts', 'devices', 'users'].find((p) => perms.has(p));
  try {
    if ((page || first) === 'alerts' && perms.has('alerts')) return id ? await renderDetail(decodeURIComponent(id)) : renderAlerts();
    if (page === 'devices' && perms.has('devices')) return await renderDevices();
    // Loaded on first use: the guard-room PC never fetches the installer's page.
    if (page === 'commissioning' && perms.has('commands')) return await (await import('./commissioning.js')).renderCommissioning({ api, h, lang: () => state.lang, fmtTime, kindName, main: () => $('#main') });
    if (page === 'events' && perms.has('events')) return await renderEvents();
    if (page === 'people' && perms.has('people')) return await renderPeople();
    if (page === 'users' && perms.has('users')) return await renderUsers();
    if (page === 'audit' && perms.has('audit')) return await renderAudit();
    if (page === 'config' && perms.has('config')) return await renderConfig();
    if (first && page !== first) location.hash = `#/${first}`;
  } catch (error) {
    if (error.message !== 'login required') $('#main').replaceChildren(h('p', { class: 'error' }, error.message));
  }
}

async function boot() {
  state.site = await api('/api/console/site');
  state.lang ??= state.site.language;
  applyTexts();
  $('#top').hidden = false;
  // The live badge is about the alert stream: without the alerts permission there is none to show.
  $('#live').hidden = !state.me.permissions.includes('alerts');
  if (state.me.permissions.includes('alerts')) openStream();
  await route();
}

window.addEventListener('hashchange', route);
$('#lang').addEventListener('click', () => { switchLang(); route(); });
$('#sound').addEventListener('click', () => {
  state.sound = !state.sound;
  localStorage.setItem('gg.sound', state.sound ? 'on' : 'off');
  applyTexts();
  if (state.sound) beep('high');
});
$('#logout').addEventListener('click', async () => {
  try { await api('/api/auth/logout', { method: 'POST', body: '{}' }); } catch { /* already out */ }
  sessionStorage.removeItem('gg.lastSeq');
  state.alerts.clear();
  showLogin();
});

state.lang ??= 'zh-CN';
applyTexts();
api('/api/auth/me').then((me) => { state.me = me; return boot(); }, () => {});
