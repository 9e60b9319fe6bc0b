import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PERSONAL, REDACTED, Redactor } from '../../gateway/cli/redact.ts';

const SITE = `# site notes: keep me
site:
  gatewayId: gw-1
  communityName: 测试小区 # the community
devices:
  - { id: ac-1, name: 东门门禁, kind: access-controller, transport: mqtt, secretHash: "scrypt$4096$8$1$c2FsdA$aGFzaA" }
broker:
  users:
    - { username: guard, passwordHash: "scrypt$32768$8$1$c2FsdDI$aGFzaDI" }
platform:
  url: mqtts://gw:url-pass-123@grid.example.cn:8883
  password: plain-pass-456
  tls: { key: /etc/gridguard/pki/gateway.key }
registry:
  residents:
    - { id: p1, name: 张秘密, houses: [h1], cards: ["1001"], plates: [闽A·12345] }
watchlist:
  - { id: w1, subject: { type: plate, value: 闽A·88888 }, level: high, reason: 涉案车辆 }
`;

describe('support-bundle redaction', () => {
  it('replaces secrets and personal data in the site file and keeps its comments and shape', () => {
    const r = new Redactor();
    const out = r.siteFile(SITE);
    expect(out).toContain('# site notes: keep me');
    expect(out).toContain('# the community');
    for (const gone of ['scrypt$', 'url-pass-123', 'plain-pass-456', '/etc/gridguard/pki/gateway.key', '张秘密', '1001', '闽A·12345', '闽A·88888']) expect(out).not.toContain(gone);
    const site = parse(out);
    expect(site.devices[0]).toMatchObject({ id: 'ac-1', name: '东门门禁', secretHash: REDACTED });
    expect(site.registry.residents[0]).toMatchObject({ id: 'p1', name: PERSONAL, houses: ['h1'], cards: [PERSONAL] });
    expect(site.watchlist[0].subject).toEqual({ type: 'plate', value: PERSONAL });
    expect(site.platform.url).toBe(`mqtts://gw:${REDACTED}@grid.example.cn:8883`);
  });

  it('then scrubs what it learned from logs, as whole words, structurally for JSON lines', () => {
    const r = new Redactor();
    r.siteFile(SITE);
    const [json, text, stamp, pem, ...split] = r.logLines([
      JSON.stringify({ time: 1795917714935, msg: '张秘密 entered', cardNo: '1001', password: 'x-secret-789', nested: { token: 'tok-abcdef' } }),
      'retrying with plain-pass-456 against 重点人员(卡号 66660001) 车牌 闽B·7777X',
      'at 2026-10-01T10:01:00 device 1001-x answered 21001',
      '-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----',
      'key follows:',
      '-----BEGIN RSA PRIVATE KEY-----',
      'MIIEowIBAAKCAQEA',
      '-----END RSA PRIVATE KEY-----',
      'done',
    ]);
    expect(split).toEqual(['key follows:', REDACTED, REDACTED, REDACTED, 'done']);
    expect(JSON.parse(json!)).toEqual({ time: 1795917714935, msg: `${PERSONAL} entered`, cardNo: PERSONAL, password: REDACTED, nested: { token: REDACTED } });
    expect(text).toBe(`retrying with ${REDACTED} against 重点人员(卡号 ${PERSONAL}) 车牌 ${PERSONAL}`);
    // "1001" as a whole word is a card; inside 21001 or a timestamp it is not.
    expect(stamp).toBe(`at 2026-10-01T10:01:00 device ${PERSONAL}-x answered 21001`);
    expect(pem).toBe(REDACTED);
    expect(r.text('later: x-secret-789 and tok-abcdef')).toBe(`later: ${REDACTED} and ${REDACTED}`);
  });
});
