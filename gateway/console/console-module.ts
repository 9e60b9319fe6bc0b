import { join } from 'node:path';
import type { GatewayConfig } from '../../config/schema/index.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { installAccessControl } from '../auth/access.ts';
import { AuthService } from '../auth/auth-service.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Service } from '../core/service.ts';
import { authRoutes } from '../http/routes/auth.ts';
import { commissioningRoutes } from '../http/routes/commissioning.ts';
import { consoleRoutes } from '../http/routes/console.ts';
import type { RouteModule } from '../http/server.ts';
import type { SiteModel } from '../site/site-model.ts';
import type { Store } from '../store/store.ts';
import { ImageSources } from './images.ts';

export const API_TOKEN_FILE = 'api-token';

/**
 * The guard-room console as the composition root wires it: users and sessions, the audit log,
 * the access hook that guards every route, and the console's own routes and files.
 */
export function consoleModule(deps: { config: GatewayConfig; dataDir: string; store: Store; site: SiteModel; clock: Clock; metrics: Metrics; log: Logger }): {
  auth: AuthService;
  audit: AuditLog;
  images: ImageSources;
  services: Service[];
  routes: RouteModule[];
} {
  const { config, store, clock, metrics, log } = deps;
  const auth = new AuthService({ store, config: config.console, clock, metrics, log: log.child({ component: 'auth' }), apiTokenFile: join(deps.dataDir, API_TOKEN_FILE) });
  const audit = new AuditLog({ store, clock });
  const images = new ImageSources();
  const routes: RouteModule[] = [
    (app) => installAccessControl(app, { auth, metrics, log, metricsAccess: config.console.metrics }),
    authRoutes({ auth, audit, loginAttemptsPerMinute: config.console.loginAttemptsPerMinute }),
    consoleRoutes({ store, site: deps.site, config, audit, images, language: config.console.language }),
    commissioningRoutes({ config, site: deps.site, clock, log: log.child({ component: 'commissioning' }) }),
  ];
  return { auth, audit, images, services: [auth], routes };
}
