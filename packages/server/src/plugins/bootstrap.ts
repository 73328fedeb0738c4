// POST /v1/bootstrap: the first tenant, its instance admin and an all-scopes key, once.
import type { FastifyInstance } from 'fastify';
import { bootstrapInstance, type BootstrapInput } from '../services/bootstrap.js';

export async function bootstrapPlugin(app: FastifyInstance): Promise<void> {
  app.hub.router.register(app, {
    bootstrap: async (req, reply) => reply.code(201).send(await bootstrapInstance(app.hub.db, req.body as BootstrapInput)),
  });
}
