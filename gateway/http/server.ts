import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../core/logger.ts';
import type { Service } from '../core/service.ts';

/** A route module registers its routes on the shared fastify instance. */
export type RouteModule = (app: FastifyInstance) => void | Promise<void>;

/** The gateway's HTTP server (API, SSE, later the console). Routes come from small modules. */
export class HttpServer implements Service {
  readonly name = 'http';
  app: FastifyInstance | null = null;
  port = 0;

  constructor(
    private readonly deps: { host: string; port: number; routes: RouteModule[]; log: Logger },
  ) {}

  async start(): Promise<void> {
    const app = Fastify({
      loggerInstance: this.deps.log.child({ component: 'http' }) as unknown as FastifyBaseLogger,
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: 1024 * 1024,
      forceCloseConnections: true,
    });
    app.setErrorHandler((error: { statusCode?: number; message: string; validation?: unknown }, request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
      if (status >= 500) request.log.error({ err: error, url: request.url }, 'request failed');
      reply.status(status).send({ error: status >= 500 ? 'internal error' : error.message });
    });
    for (const route of this.deps.routes) await route(app);
    await app.listen({ host: this.deps.host, port: this.deps.port });
    const address = app.server.address();
    this.port = typeof address === 'object' && address ? address.port : this.deps.port;
    this.app = app;
    this.deps.log.info({ port: this.port }, `http listening on http://${this.deps.host}:${this.port}`);
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = null;
    if (app) await app.close();
  }
}
