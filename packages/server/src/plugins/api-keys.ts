// API keys of the caller's tenant: create (secret shown once), list, get, revoke, rotate.
import type { FastifyInstance } from 'fastify';
import { decodeCursor, page } from '../http/pagination.js';
import { checkExpiry, checkGrantable, getApiKey, insertApiKey, listApiKeys, revokeApiKey, rotateApiKey } from '../services/api-keys.js';

type IdParams = { id: string };
type ListQuery = { limit: number; cursor?: string };

export async function apiKeysPlugin(app: FastifyInstance): Promise<void> {
  const { router, db, principals } = app.hub;
  router.register(app, {
    createApiKey: async (req, reply) => {
      const p = req.principal!;
      const body = req.body as { name: string; scopes: string[]; expires_at?: string | null };
      checkGrantable(p, body.scopes);
      checkExpiry(body.expires_at);
      const created = await db.tenant(p.tenantId, (q) =>
        insertApiKey(q, p.tenantId, { name: body.name, scopes: body.scopes, expiresAt: body.expires_at ?? null, createdByUserId: p.userId }),
      );
      return reply.code(201).send(created);
    },
    listApiKeys: async (req) => {
      const p = req.principal!;
      const { limit, cursor } = req.query as ListQuery;
      const after = decodeCursor(cursor);
      return page(await db.tenant(p.tenantId, (q) => listApiKeys(q, after, limit)), limit);
    },
    getApiKey: async (req) => {
      const p = req.principal!;
      return db.tenant(p.tenantId, (q) => getApiKey(q, (req.params as IdParams).id));
    },
    revokeApiKey: async (req) => {
      const p = req.principal!;
      const { id } = req.params as IdParams;
      const revoked = await db.tenant(p.tenantId, (q) => revokeApiKey(q, id));
      await principals.invalidate(`key:${id}`);
      return revoked;
    },
    rotateApiKey: async (req, reply) => {
      const p = req.principal!;
      const { id } = req.params as IdParams;
      const rotated = await db.tenant(p.tenantId, (q) => rotateApiKey(q, id));
      await principals.invalidate(`key:${id}`);
      return reply.code(200).send(rotated);
    },
  });
}
