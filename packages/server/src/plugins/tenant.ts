// The caller's tenant: read and rename it, its members and roles, GDPR export and erase.
import type { FastifyInstance } from 'fastify';
import { decodeCursor, page } from '../http/pagination.js';
import type { Role } from '../services/principal.js';

type IdParams = { id: string };

export async function tenantPlugin(app: FastifyInstance): Promise<void> {
  const { router, services } = app.hub;
  const tenants = services.tenants;
  router.register(app, {
    getTenant: async (req) => tenants.get(req.principal!.tenantId),
    updateTenant: async (req) => tenants.update(req.principal!.tenantId, req.body as { name?: string }),
    exportTenant: async (req, reply) => {
      const data = await tenants.export(req.principal!.tenantId);
      return reply.header('Content-Disposition', `attachment; filename="${req.principal!.tenantId}-export.json"`).send(data);
    },
    deleteTenant: async (req, reply) => {
      const { confirm } = req.body as { confirm: string };
      return reply.code(202).send(await tenants.erase(req.principal!, confirm));
    },
    listMembers: async (req) => {
      const { limit, cursor } = req.query as { limit: number; cursor?: string };
      return page(await tenants.listMembers(req.principal!.tenantId, decodeCursor(cursor), limit), limit);
    },
    createMember: async (req, reply) => {
      const body = req.body as { email: string; name?: string; password: string; role: Role };
      return reply.code(201).send(await tenants.addMember(req.principal!, body));
    },
    updateMember: async (req) => {
      const { role } = req.body as { role: Role };
      return tenants.updateMember(req.principal!, (req.params as IdParams).id, role);
    },
    deleteMember: async (req, reply) => {
      await tenants.removeMember(req.principal!, (req.params as IdParams).id);
      return reply.code(204).send();
    },
  });
}
