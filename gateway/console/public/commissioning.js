// Commissioning page (调试, installer and admin): what each device must be set to, whether it is
// alive, and a button that sends it a harmless command. Settings come from GET /api/commissioning
// (the CLI can read the same); live state from polling GET /api/devices, which is cheap and needs
// no stream of its own.

const POLL_MS = 3000;

const TEXTS = {
  'zh-CN': {
    title: '设备调试', intro: '逐台核对设备设置，看到“在线”后点“测试”：门锁继电器吸合半秒、声光报警器响一秒、其他设备应答一次。',
    device: '设备', state: '状态', settings: '设备应设置为', link: '链路', lastSeen: '最后通信', test: '测试',
    online: '在线', offline: '离线', other: '其他位置', never: '从未',
    broker: 'MQTT 服务器', thisHost: '本机地址', clientId: '客户端 ID = 用户名', secret: '密钥', 'secret.provisioned': '已下发', 'secret.simulated': '模拟设备',
    'secret.missing': '未下发：运行 gridguard devices provision', topics: '主题', publish: '设备发布', subscribe: '设备订阅', will: '遗嘱',
    heartbeat: '心跳间隔', seconds: '秒', bus: '总线', address: '地址', protocol: '协议', coils: '线圈', doorStrike: '门锁', siren: '警号', points: '监测点',
    endpoint: '端点', security: '安全', nodes: '节点', commands: '命令',
    connected: '已连接', disconnected: '未连接', framesOk: '正常帧', framesBad: '坏帧', reconnects: '重连', noLink: '无链路信息',
    run: '测试', running: '测试中…', ok: '成功', failed: '失败', noTest: '无可用的安全测试命令', expect: '预期',
  },
  en: {
    title: 'Commissioning', intro: 'Check each device against its settings; once it shows online, press Test: a door strike clicks for half a second, a siren sounds for one, other devices answer once.',
    device: 'Device', state: 'State', settings: 'Set the device to', link: 'Link', lastSeen: 'Last seen', test: 'Test',
    online: 'online', offline: 'offline', other: 'Elsewhere', never: 'never',
    broker: 'MQTT broker', thisHost: 'this gateway', clientId: 'client id = user name', secret: 'Secret', 'secret.provisioned': 'provisioned', 'secret.simulated': 'simulated',
    'secret.missing': 'missing: run gridguard devices provision', topics: 'Topics', publish: 'device publishes', subscribe: 'device subscribes', will: 'last will',
    heartbeat: 'Heartbeat', seconds: 's', bus: 'Bus', address: 'Address', protocol: 'Protocol', coils: 'Coils', doorStrike: 'door strike', siren: 'siren', points: 'points',
    endpoint: 'Endpoint', security: 'Security', nodes: 'Nodes', commands: 'Commands',
    connected: 'connected', disconnected: 'not connected', framesOk: 'frames ok', framesBad: 'bad frames', reconnects: 'reconnects', noLink: 'no link health',
    run: 'Test', running: 'testing…', ok: 'ok', failed: 'failed', noTest: 'no harmless test command configured', expect: 'Expect',
  },
};

let pollTimer = null;
/** Test results survive the re-renders of a language switch or a return to the page. */
const results = new Map();

/**
 * @param ui helpers from app.js: { api, h, lang, fmtTime, kindName, main }
 */
export async function renderCommissioning(ui) {
  const { api, h } = ui;
  const tx = (key) => (TEXTS[ui.lang()] || TEXTS['zh-CN'])[key] ?? key;
  const [{ groups }, { devices }] = await Promise.all([api('/api/commissioning'), api('/api/devices')]);

  const kv = (label, ...value) => [h('dt', {}, label), h('dd', {}, ...value)];
  const code = (text) => h('code', {}, text);

  function settingsOf(d) {
    const s = d.settings;
    if (s.transport === 'mqtt') {
      const host = s.host ?? location.hostname;
      return h('dl', { class: 'cm-settings' },
        kv(tx('broker'), code(`${host}:${s.port}`), s.host ? null : h('span', { class: 'muted' }, ` (${tx('thisHost')})`), s.tlsPort ? h('span', { class: 'muted' }, ` · TLS ${s.tlsPort}`) : null),
        kv(tx('clientId'), code(s.clientId)),
        kv(tx('secret'), h('span', { class: s.secret === 'missing' ? 'error' : '' }, tx(`secret.${s.secret}`))),
        kv(tx('topics'), h('div', { class: 'cm-topics' },
          h('div', {}, code(s.topics.events), ' ', code(s.topics.heartbeat), ' ', code(s.topics.commandResult), h('span', { class: 'muted' }, ` ${tx('publish')}`)),
          h('div', {}, code(s.topics.availability), h('span', { class: 'muted' }, ` online / ${tx('will')} offline (QoS 1)`)),
          h('div', {}, code(s.topics.commands), h('span', { class: 'muted' }, ` ${tx('subscribe')}`)))),
        kv(tx('heartbeat'), `${s.heartbeatSeconds} ${tx('seconds')}`));
    }
    if (s.transport === 'serial') {
      const coils = s.outputs ? [s.outputs.doorStrikeCoil !== undefined ? `${tx('doorStrike')} ${s.outputs.doorStrikeCoil}` : null, s.outputs.sirenCoil !== undefined ? `${tx('siren')} ${s.outputs.sirenCoil}` : null].filter(Boolean).join(' · ') : '';
      return h('dl', { class: 'cm-settings' },
        kv(tx('bus'), code(s.path ?? '?'), h('span', { class: 'muted' }, ` (${s.bus})`)),
        kv('', code(`${s.baudRate ?? '?'} ${s.frame ?? ''}`)),
        kv(tx('protocol'), s.protocol),
        kv(tx('address'), code(String(s.address))),
        coils ? kv(tx('coils'), coils) : null,
        s.points ? kv(tx('points'), String(s.points)) : null);
    }
    return h('dl', { class: 'cm-settings' },
      kv(tx('endpoint'), code(s.endpoint ?? '?'), h('span', { class: 'muted' }, ` (${s.server})`)),
      kv(tx('security'), `${s.securityMode ?? '?'} / ${s.securityPolicy ?? '?'}`),
      s.nodes.length ? kv(tx('nodes'), h('div', { class: 'cm-topics' }, s.nodes.map((n) => h('div', {}, code(n.nodeId), n.name ? h('span', { class: 'muted' }, ` ${n.name}`) : null)))) : null,
      s.commands.length ? kv(tx('commands'), h('div', { class: 'cm-topics' }, s.commands.map((c) => h('div', {}, `${c.command} → `, code(c.nodeId))))) : null);
  }

  function linkText(link) {
    if (!link) return h('span', { class: 'muted' }, tx('noLink'));
    return h('div', {},
      h('div', {}, h('span', { class: `dot ${link.connected ? 'on' : 'off'}` }), tx(link.connected ? 'connected' : 'disconnected')),
      h('div', { class: 'muted' }, `${tx('framesOk')} ${link.framesOk} · ${tx('framesBad')} ${link.framesBad} · ${tx('reconnects')} ${link.reconnects}`),
      link.detail ? h('div', { class: 'muted' }, link.detail) : null);
  }

  function stateCells(live) {
    const online = live?.online ?? false;
    return {
      state: h('td', { class: 'cm-state' }, h('span', { class: `dot ${online ? 'on' : 'off'}` }), tx(online ? 'online' : 'offline')),
      link: h('td', { class: 'cm-link' }, linkText(live?.link ?? null)),
      seen: h('td', { class: 'cm-seen' }, live?.lastSeen ? ui.fmtTime(live.lastSeen) : tx('never')),
    };
  }

  function resultView(id) {
    const r = results.get(id);
    if (!r) return null;
    if (r.running) return h('div', { class: 'cm-result muted', 'data-result': 'running' }, tx('running'));
    if (r.error) return h('div', { class: 'cm-result error', 'data-result': 'failed' }, `${tx('failed')}: ${r.error}`);
    return h('div', { class: `cm-result ${r.ok ? 'cm-ok' : 'error'}`, 'data-result': r.ok ? 'ok' : 'failed' },
      h('div', {}, `${r.ok ? '✓' : '✗'} ${tx(r.ok ? 'ok' : 'failed')}`),
      r.steps.map((s) => h('div', { class: 'cm-step' }, code(s.type), ` ${s.result.ok ? '✓' : '✗'} ${s.elapsedMs} ms`,
        s.result.error ? h('div', {}, s.result.error) : null,
        s.result.data ? h('div', { class: 'muted' }, JSON.stringify(s.result.data)) : null)));
  }

  // Swapped by lookup rather than by reference: a poll or a re-render may have replaced the row meanwhile.
  const swapTestCell = (d) => document.querySelector(`tr[data-device="${CSS.escape(d.id)}"] .cm-test`)?.replaceWith(testCell(d));

  async function runTest(d) {
    results.set(d.id, { running: true });
    swapTestCell(d);
    try {
      results.set(d.id, await api(`/api/commissioning/${encodeURIComponent(d.id)}/test`, { method: 'POST', body: '{}' }));
    } catch (error) {
      results.set(d.id, { error: error.message });
    }
    swapTestCell(d);
  }

  function testCell(d) {
    const cell = h('td', { class: 'cm-test' });
    if (!d.test) {
      cell.append(h('span', { class: 'muted' }, tx('noTest')));
      return cell;
    }
    const running = results.get(d.id)?.running === true;
    cell.append(
      h('button', { type: 'button', class: 'cm-run', 'data-test': d.id, disabled: running, onclick: () => runTest(d) }, tx('run')),
      h('div', { class: 'muted cm-expect' }, d.test.steps.map((s) => s.type).join(' → '), ' · ', d.test.expect[ui.lang()] ?? d.test.expect['zh-CN']),
      resultView(d.id) ?? '');
    return cell;
  }

  const liveById = new Map(devices.map((d) => [d.id, d]));
  const head = h('tr', {}, ...['state', 'device', 'settings', 'link', 'lastSeen', 'test'].map((k) => h('th', {}, tx(k))));
  const row = (d) => {
    const cells = stateCells(liveById.get(d.id));
    return h('tr', { 'data-device': d.id, 'data-online': String(liveById.get(d.id)?.online ?? false) },
      cells.state,
      h('td', {}, h('div', {}, d.name), d.name !== d.id ? h('div', { class: 'muted' }, d.id) : null, h('div', { class: 'muted' }, `${ui.kindName(d.kind)} · ${d.transport}`), h('div', { class: 'muted' }, d.place)),
      h('td', {}, settingsOf(d)), cells.link, cells.seen, testCell(d));
  };
  const groupName = (g) => g.name ?? tx('other');
  ui.main().replaceChildren(
    h('h1', {}, tx('title'), ' ', h('span', { class: 'muted', id: 'cm-count' })),
    h('p', { class: 'muted' }, tx('intro')),
    ...groups.flatMap((g) => [h('h2', {}, groupName(g)), h('table', { class: 'cm-table' }, head.cloneNode(true), g.devices.map(row))]));

  const count = (list) => {
    const el = document.getElementById('cm-count');
    if (el) el.textContent = `${list.filter((d) => d.online).length} / ${list.length} ${tx('online')}`;
  };
  count(devices);

  // Only the live cells are replaced on each poll, so a test result or a selection is not disturbed.
  clearTimeout(pollTimer);
  const tick = async () => {
    if (!location.hash.startsWith('#/commissioning')) return;
    try {
      const { devices: now } = await api('/api/devices');
      count(now);
      for (const live of now) {
        const tr = document.querySelector(`tr[data-device="${CSS.escape(live.id)}"]`);
        if (!tr) continue;
        tr.dataset.online = String(live.online);
        const cells = stateCells(live);
        tr.querySelector('.cm-state')?.replaceWith(cells.state);
        tr.querySelector('.cm-link')?.replaceWith(cells.link);
        tr.querySelector('.cm-seen')?.replaceWith(cells.seen);
      }
    } catch {
      /* the gateway is restarting or the session ended (app.js shows the login) */
    }
    pollTimer = setTimeout(tick, POLL_MS);
  };
  pollTimer = setTimeout(tick, POLL_MS);
}
