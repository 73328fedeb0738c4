// The caller's tenant: read and rename it, its members and roles, its own model-provider settings, GDPR export and erase.
import type { FastifyInstance } from 'fastify';
import { decodeCursor, page } from '../http/pagination.js';
import type { ProviderName } from '../runtimes/providers.js';
import type { Role } from '../services/principal.js';
import type { TenantProviderInput } from '../services/providers.js';

type IdParams = { id: string };
type ProviderParams = { provider: ProviderName };

export async function tenantPlugin(app: FastifyInstance): Promise<void> {
  const { router, services } = app.hub;
  const tenants = services.tenants;
  const providers = services.providers;
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
    listTenantProviders: async (req) => {
      const { limit, cursor } = req.query as { limit: number; cursor?: string };
      return providers.page(req.principal!.tenantId, cursor, limit);
    },
    setTenantProvider: async (req) => {
      const { provider } = req.params as ProviderParams;
      const set = await providers.set(req.principal!.tenantId, provider, req.body as TenantProviderInput);
      req.log.info({ provider, api_key_set: set.api_key_set, base_url: set.base_url }, 'tenant provider settings set');
      return set;
    },
    deleteTenantProvider: async (req, reply) => {
      const { provider } = req.params as ProviderParams;
      await providers.remove(req.principal!.tenantId, provider);
      req.log.info({ provider }, 'tenant provider settings removed');
      return reply.code(204).send();
    },
  });
}
