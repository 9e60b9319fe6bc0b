import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../core/metrics.ts';

export interface StatusSource {
  status(): Promise<Record<string, unknown>>;
}

/** Liveness, a status summary for installers and the console, and Prometheus metrics. */
export function statusRoutes(deps: { source: StatusSource; metrics: Metrics }) {
  return (app: FastifyInstance) => {
    app.get('/healthz', { config: { access: 'public' } }, async () => ({ ok: true }));
    app.get('/api/status', { config: { access: 'status' } }, async () => deps.source.status());
    app.get('/metrics', { config: { access: 'metrics' } }, async (_request, reply) => {
      reply.header('content-type', deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    });
  };
}
