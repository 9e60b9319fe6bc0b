import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { AuthService, Principal } from './auth-service.ts';
import { roleMay, type Access } from './roles.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The logged-in user (or the local CLI), set by the access hook; null when anonymous. */
    principal: Principal | null;
    /** For long-lived responses (SSE): false once the session behind this request has ended. */
    stillAuthorized: () => boolean;
  }
  interface FastifyContextConfig {
    /** What the route needs: 'public', 'session' (any logged-in user) or a permission (gateway/auth/roles.ts). */
    access?: Access;
  }
}

export const SESSION_COOKIE = 'gg_session';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export interface AccessDeps {
  auth: AuthService;
  metrics: Metrics;
  log: Logger;
  /** Who may read /metrics without logging in. */
  metricsAccess: 'loopback' | 'token';
}

/** The principal behind a request: a bearer API token (the CLI), else the session cookie. */
export function principalOf(request: FastifyRequest, auth: AuthService): Principal | null {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return auth.resolveApiToken(header.slice(7).trim());
  const token = request.cookies?.[SESSION_COOKIE];
  return token ? auth.resolveSession(token) : null;
}

/**
 * One onRequest hook guards every route by the `access` its module declares in the route config.
 * An `/api/` route that declares nothing is refused: a forgotten declaration fails closed.
 * It runs before the body is parsed, so anonymous requests cost no parsing.
 */
export async function installAccessControl(app: FastifyInstance, deps: AccessDeps): Promise<void> {
  await app.register(fastifyCookie);
  app.decorateRequest('principal', null);
  app.decorateRequest('stillAuthorized', null as unknown as () => boolean);
  const warned = new Set<string>();

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url;
    if (!route) return; // no such route: the 404 handler answers
    const access = request.routeOptions.config?.access;
    request.principal = principalOf(request, deps.auth);
    request.stillAuthorized = () => access === 'public' || principalOf(request, deps.auth) !== null;
    const refuse = (status: 401 | 403, reason: string, message: string) => {
      deps.metrics.rejected.inc({ source: 'http', reason });
      return reply.status(status).send({ error: message });
    };

    if (access === undefined) {
      if (!route.startsWith('/api/')) return;
      if (!warned.has(route)) {
        warned.add(route);
        deps.log.error({ route }, `route ${request.method} ${route} declares no access policy (config.access): refused`);
      }
      return refuse(403, 'no-access-policy', `route ${route} declares no access policy`);
    }
    if (access === 'public') return;
    if (access === 'metrics' && deps.metricsAccess === 'loopback' && LOOPBACK.has(request.socket.remoteAddress ?? '')) return;
    const who = request.principal;
    if (!who) return refuse(401, 'no-session', 'login required');
    if (who.via === 'session' && !sameOrigin(request)) return refuse(403, 'cross-origin', 'cross-origin request refused');
    if (access === 'session') return;
    if (!roleMay(who.role, access)) return refuse(403, 'forbidden', `role ${who.role} may not use ${access}`);
  });
}

/**
 * SameSite=Strict cookies already keep other sites' requests anonymous; this also refuses a
 * state-changing request whose Origin names another host (older browsers, proxies).
 */
function sameOrigin(request: FastifyRequest): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return true;
  const origin = request.headers.origin;
  if (!origin) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
