import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import { FakeClock } from '../../../gateway/core/clock.ts';
import { Store } from '../../../gateway/store/store.ts';
import { connectDevice, publishEvent, startGateway, testSite, type TestGateway } from '../../helpers/gateway.ts';
import { loginAs, type LoggedIn } from '../../helpers/login.ts';
import { waitFor } from '../../helpers/net.ts';

describe('AuditLog: append-only and hash-chained', () => {
  it('refuses UPDATE and DELETE, and verify() finds a row edited behind the triggers', async () => {
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'gg-audit-')), 'gridguard.db'));
    const audit = new AuditLog({ store, clock: new FakeClock() });
    for (let i = 1; i <= 3; i++) await audit.record({ actor: 'guard1', role: 'guard', action: 'view.person', target: `p${i}`, reason: 'care visit', ip: '127.0.0.1' });
    expect(audit.verify()).toEqual({ ok: true, rows: 3 });
    expect(() => store.db.prepare("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2").run()).toThrow(/append-only/);
    expect(() => store.db.prepare('DELETE FROM audit_log WHERE seq = 1').run()).toThrow(/append-only/);
    expect(audit.list().map((e) => e.target)).toEqual(['p3', 'p2', 'p1']);

    // Someone with the file drops the trigger and rewrites history: the chain shows where.
    store.db.exec('DROP TRIGGER audit_log_no_update');
    store.db.prepare("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2").run();
    expect(audit.verify()).toEqual({ ok: false, brokenAt: 2 });
    store.close();
  });
});

describe('every view of personal data and every export is audit-logged with who, when and why', () => {
  let gw: TestGateway;
  let guard: LoggedIn;
  let admin: LoggedIn;
  const get = (path: string, who: LoggedIn = guard) => fetch(`${gw.httpUrl}${path}`, { headers: who.headers });
  const entries = async () => (await (await get('/api/audit?limit=1000', admin)).json() as any).entries as { actor: string; action: string; target: string; reason: string | null; at: string }[];

  beforeAll(async () => {
    gw = await startGateway(await testSite());
    guard = await loginAs(gw, 'guard');
    admin = await loginAs(gw, 'admin');
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('care list, watchlist and a person', async () => {
    const care = await (await get('/api/people/care?why=night%20round')).json() as any;
    expect(care.people).toEqual([expect.objectContaining({ id: 'p2', name: '李四', houses: [{ id: 'h101', label: '1号楼1单元101', addressCode: 'AC3501020101101' }] })]);
    const watch = await (await get('/api/people/watchlist')).json() as any;
    expect(watch.watchlist.map((w: { id: string }) => w.id).sort()).toEqual(['w1', 'w2']);
    const person = await (await get('/api/people/p1?why=visitor%20asked')).json() as any;
    expect(person.person).toMatchObject({ id: 'p1', name: '张三' });
    expect((await get('/api/people/nobody')).status).toBe(404);

    const log = await entries();
    expect(log).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: guard.username, action: 'view.care-list', target: 'care-list', reason: 'night round' }),
        expect.objectContaining({ actor: guard.username, action: 'view.watchlist', target: 'watchlist' }),
        expect.objectContaining({ actor: guard.username, action: 'view.person', target: 'p1', reason: 'visitor asked' }),
      ]),
    );
    expect(log.some((e) => e.target === 'nobody')).toBe(false);
  });

  it('an alert naming a subject, and following a subject through the events', async () => {
    const device = await connectDevice(gw.mqttUrl, 'ac-2');
    await publishEvent(device, 'ac-2', { type: 'access.denied', cardNo: '6666' });
    await device.endAsync();
    const alert = await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'watchlist-hit'), 'watchlist alert');
    expect((await get(`/api/alerts/${alert.id}`)).status).toBe(200);
    expect((await get('/api/events?subject=card:6666')).status).toBe(200);
    const log = await entries();
    expect(log).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: guard.username, action: 'view.alert-subject', target: 'watch:w1', reason: `alert ${alert.id}` }),
        expect.objectContaining({ actor: guard.username, action: 'view.events', target: 'card:6666' }),
      ]),
    );
  });

  it('an export needs a reason, and is logged with its filters and row count', async () => {
    const refused = await get('/api/events/export');
    expect(refused.status).toBe(400);
    expect((await refused.json() as any).error).toMatch(/reason/);
    const res = await get('/api/events/export?type=access.denied&reason=%E6%B4%BE%E5%87%BA%E6%89%80%E8%B0%83%E5%8F%96');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="events-/);
    const bytes = Buffer.from(await res.arrayBuffer());
    // A UTF-8 byte-order mark, so that Excel on the guard-room PC opens the Chinese text right.
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.subarray(3).toString('utf8').trim().split('\r\n');
    expect(lines[0]).toBe('id,receivedAt,deviceTime,deviceId,type,place,addressCode,communityGridCode,policeGridCode,identity,name,subjects');
    expect(lines.slice(1).every((l) => l.includes(',access.denied,'))).toBe(true);
    expect(lines.length).toBeGreaterThan(1);
    const log = await entries();
    const exported = log.find((e) => e.action === 'export.events');
    expect(exported).toMatchObject({ actor: guard.username, target: 'events', reason: '派出所调取' });
    expect((exported as unknown as { details: { rows: number } }).details.rows).toBe(lines.length - 1);
  });

  it('the audit log itself is for admins only, and its chain verifies', async () => {
    expect((await get('/api/audit')).status).toBe(403);
    const body = await (await get('/api/audit', admin)).json() as any;
    expect(body.chain.ok).toBe(true);
    expect(body.entries[0].at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});
