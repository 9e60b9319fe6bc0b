import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuditLog } from '../../audit/audit-log.ts';
import { SESSION_COOKIE } from '../../auth/access.ts';
import { AuthError, type AuthService } from '../../auth/auth-service.ts';
import { permissionsOf, ROLES } from '../../auth/roles.ts';
import type { User } from '../../auth/users.ts';

const LoginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) }).strict();
const PasswordBody = z.object({ current: z.string().min(1).max(256), password: z.string().min(1).max(256) }).strict();
const CreateUserBody = z
  .object({ username: z.string().min(1).max(64), displayName: z.string().max(64).optional(), role: z.enum(ROLES), password: z.string().min(1).max(256) })
  .strict();
const UpdateUserBody = z
  .object({ displayName: z.string().min(1).max(64).optional(), role: z.enum(ROLES).optional(), disabled: z.boolean().optional(), password: z.string().min(1).max(256).optional() })
  .strict();

function badRequest(reply: FastifyReply, error: z.ZodError) {
  const issue = error.issues[0]!;
  return reply.status(400).send({ error: `bad request: ${issue.path.join('.') || 'body'}: ${issue.message}` });
}

function authErrorReply(reply: FastifyReply, error: unknown) {
  if (!(error instanceof AuthError)) throw error;
  const status = error.code === 'not-found' ? 404 : error.code === 'exists' || error.code === 'last-admin' ? 409 : 400;
  return reply.status(status).send({ error: error.message, code: error.code });
}

const me = (user: Pick<User, 'id' | 'username' | 'displayName' | 'role'>) => ({
  user: { id: user.id, username: user.username, displayName: user.displayName, role: user.role },
  permissions: permissionsOf(user.role),
});

/** Login, logout, who am I, own password; and user administration for admins. */
export function authRoutes(deps: { auth: AuthService; audit: AuditLog; loginAttemptsPerMinute: number }) {
  return async (app: FastifyInstance) => {
    await app.register(fastifyRateLimit, { global: false });
    // Keyed by address and user name: one guard mistyping does not lock the whole guard-room PC out.
    const loginLimit = app.createRateLimit({
      max: deps.loginAttemptsPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request: FastifyRequest) => `${request.ip}|${String((request.body as { username?: unknown } | undefined)?.username ?? '').toLowerCase()}`,
    });

    app.post('/api/auth/login', { config: { access: 'public' } }, async (request, reply) => {
      const limit = await loginLimit(request);
      if (!limit.isAllowed && limit.isExceeded) {
        request.log.warn({ ip: request.ip }, 'console login rate limit hit');
        return reply.status(429).header('retry-after', String(limit.ttlInSeconds)).send({ error: 'too many login attempts; wait a minute', retryAfterSeconds: limit.ttlInSeconds });
      }
      const body = LoginBody.safeParse(request.body);
      if (!body.success) return badRequest(reply, body.error);
      const session = await deps.auth.login(body.data.username, body.data.password, request.ip);
      if (!session) return reply.status(401).send({ error: 'wrong user name or password' });
      await deps.audit.record({ actor: session.user.username, role: session.user.role, action: 'login', target: session.user.username, reason: null, ip: request.ip });
      reply.setCookie(SESSION_COOKIE, session.token, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: 'auto',
        maxAge: Math.floor(deps.auth.maxAgeMs / 1000),
      });
      return me(session.user);
    });

    app.post('/api/auth/logout', { config: { access: 'session' } }, async (request, reply) => {
      const token = request.cookies[SESSION_COOKIE];
      if (token) await deps.auth.logout(token);
      const who = request.principal!;
      await deps.audit.record({ actor: who.username, role: who.role, action: 'logout', target: who.username, reason: null, ip: request.ip });
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { ok: true };
    });

    app.get('/api/auth/me', { config: { access: 'session' } }, async (request) => {
      const who = request.principal!;
      return me({ id: who.userId, username: who.username, displayName: who.displayName, role: who.role });
    });

    app.post('/api/auth/password', { config: { access: 'session' } }, async (request, reply) => {
      const body = PasswordBody.safeParse(request.body);
      if (!body.success) return badRequest(reply, body.error);
      const who = request.principal!;
      if (who.via !== 'session') return reply.status(400).send({ error: 'only a logged-in user can change their password' });
      if (!(await deps.auth.verifyPassword(who.username, body.data.current))) return reply.status(403).send({ error: 'current password is wrong' });
      try {
        await deps.auth.updateUser(who.userId, { password: body.data.password });
      } catch (error) {
        return authErrorReply(reply, error);
      }
      await deps.audit.record({ actor: who.username, role: who.role, action: 'user.update', target: who.userId, reason: 'own password', ip: request.ip });
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { ok: true, loginAgain: true };
    });

    app.get('/api/users', { config: { access: 'users' } }, async () => ({ users: deps.auth.users.list() }));

    app.post('/api/users', { config: { access: 'users' } }, async (request, reply) => {
      const body = CreateUserBody.safeParse(request.body);
      if (!body.success) return badRequest(reply, body.error);
      try {
        const user = await deps.auth.createUser(body.data);
        const who = request.principal!;
        await deps.audit.record({ actor: who.username, role: who.role, action: 'user.create', target: user.id, reason: null, ip: request.ip, details: { username: user.username, role: user.role } });
        return reply.status(201).send({ user });
      } catch (error) {
        return authErrorReply(reply, error);
      }
    });

    app.patch('/api/users/:id', { config: { access: 'users' } }, async (request, reply) => {
      const body = UpdateUserBody.safeParse(request.body);
      if (!body.success) return badRequest(reply, body.error);
      const id = (request.params as { id: string }).id;
      try {
        const user = await deps.auth.updateUser(id, body.data);
        const who = request.principal!;
        const { password, ...shown } = body.data;
        await deps.audit.record({ actor: who.username, role: who.role, action: 'user.update', target: id, reason: null, ip: request.ip, details: { ...shown, ...(password ? { password: 'reset' } : {}) } });
        return { user };
      } catch (error) {
        return authErrorReply(reply, error);
      }
    });
  };
}
