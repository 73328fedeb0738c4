// The agent catalog: shipped agents (echo and the five templates) and the tenant's own model and webhook agents.
import type { FastifyInstance } from 'fastify';
import { decodeCursor, page } from '../http/pagination.js';
import type { AgentInput } from '../services/agents.js';

type IdParams = { id: string };

export async function agentsPlugin(app: FastifyInstance): Promise<void> {
  const { router, services } = app.hub;
  const agents = services.agents;
  router.register(app, {
    listAgents: async (req) => {
      const { limit, cursor } = req.query as { limit: number; cursor?: string };
      return page(await agents.list(req.principal!.tenantId, decodeCursor(cursor), limit), limit);
    },
    getAgent: async (req) => agents.get(req.principal!.tenantId, (req.params as IdParams).id),
    createAgent: async (req, reply) =>
      reply.code(201).send(await agents.create(req.principal!.tenantId, req.body as Parameters<typeof agents.create>[1])),
    updateAgent: async (req) => agents.update(req.principal!.tenantId, (req.params as IdParams).id, req.body as AgentInput),
    deleteAgent: async (req, reply) => {
      await agents.remove(req.principal!.tenantId, (req.params as IdParams).id);
      return reply.code(204).send();
    },
  });
}
