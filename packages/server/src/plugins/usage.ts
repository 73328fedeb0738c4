// Usage of the caller's tenant: buckets over time (optionally per agent or API key) and the period against quotas.
import type { FastifyInstance } from 'fastify';

export async function usagePlugin(app: FastifyInstance): Promise<void> {
  const { router, services } = app.hub;
  router.register(app, {
    getUsage: async (req) =>
      services.usage.series(req.principal!, req.query as Parameters<typeof services.usage.series>[1]),
    getUsageSummary: async (req) => services.usage.summary(req.principal!),
  });
}
