// Operations endpoints: liveness, readiness, Prometheus metrics and the spec itself.
import type { FastifyInstance } from 'fastify';
import { specText } from '@genericcorp/contract';

export async function opsPlugin(app: FastifyInstance): Promise<void> {
  const { router, db, metrics, queue } = app.hub;
  const yaml = specText();
  router.register(app, {
    getHealthz: async () => ({ status: 'ok' }),
    getReadyz: async (_req, reply) => {
      const [database, queued] = await Promise.all([db.ping(), queue.ping()]);
      const ok = database && queued;
      const body = {
        status: ok ? 'ok' : 'unavailable',
        checks: { database: database ? 'ok' : 'unavailable', queue: queued ? 'ok' : 'unavailable' },
      };
      return reply.code(ok ? 200 : 503).send(body);
    },
    getMetrics: async (_req, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
    getOpenapi: async (_req, reply) => reply.type('application/yaml; charset=utf-8').send(yaml),
  });
}
