// Instance administration: tenants across the instance, their plans, limits and suspension.
import type { FastifyInstance } from 'fastify';
import { decodeCursor, page } from '../http/pagination.js';

export async function adminPlugin(app: FastifyInstance): Promise<void> {
  const { router, services } = app.hub;
  router.register(app, {
    adminCreateTenant: async (req, reply) =>
      reply.code(201).send(await services.admin.createTenant(req.body as { name: string; plan: string; owner_email: string; owner_password: string })),
    adminListTenants: async (req) => {
      const { limit, cursor } = req.query as { limit: number; cursor?: string };
      return page(await services.admin.list(decodeCursor(cursor), limit), limit);
    },
    adminUpdateTenant: async (req) => services.admin.update((req.params as { id: string }).id, req.body as never),
  });
}
