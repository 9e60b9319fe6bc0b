import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ConsoleSchema } from '../../../config/schema/console.ts';
import { AlertService } from '../../../gateway/alerts/alert-service.ts';
import { installAccessControl, SESSION_COOKIE } from '../../../gateway/auth/access.ts';
import { AuthService } from '../../../gateway/auth/auth-service.ts';
import { EventBus } from '../../../gateway/core/bus.ts';
import { systemClock } from '../../../gateway/core/clock.ts';
import { silentLogger } from '../../../gateway/core/logger.ts';
import { Metrics } from '../../../gateway/core/metrics.ts';
import { alertRoutes } from '../../../gateway/http/routes/alerts.ts';
import { Store } from '../../../gateway/store/store.ts';
import { waitFor } from '../../helpers/net.ts';
import { SseClient } from '../../helpers/sse.ts';

describe('a live alert stream ends with its session', () => {
  it('logout (or a disabled user) ends an open SSE stream at the next heartbeat; reconnecting is refused', async () => {
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'gg-sse-')), 'gridguard.db'));
    const metrics = new Metrics();
    const bus = new EventBus();
    const auth = new AuthService({ store, config: ConsoleSchema.parse({}), clock: systemClock, metrics, log: silentLogger(), apiTokenFile: null });
    const alerts = new AlertService({ store, bus, clock: systemClock, metrics, log: silentLogger() });
    const app = Fastify();
    await alertRoutes({ store, alerts, bus, heartbeatMs: 50 })(app);
    await installAccessControl(app, { auth, metrics, log: silentLogger(), metricsAccess: 'loopback' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/alerts/stream`;
    try {
      auth.start();
      await auth.createUser({ username: 'guard1', role: 'guard', password: 'long enough pw' });
      const session = (await auth.login('guard1', 'long enough pw', null))!;
      const headers = { cookie: `${SESSION_COOKIE}=${session.token}` };
      const sse = new SseClient(url, headers);
      await sse.open();
      let ended = false;
      void (sse as unknown as { done: Promise<void> }).done.then(() => (ended = true));
      // Still open across many heartbeats while the session lives.
      await new Promise((r) => setTimeout(r, 300));
      expect(ended).toBe(false);
      await auth.logout(session.token);
      await waitFor(() => ended, 'the stream to end after logout');
      expect((await fetch(url, { headers })).status).toBe(401);
    } finally {
      auth.stop();
      await app.close();
      store.close();
    }
  });
});
