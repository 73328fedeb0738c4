// GET /v1/me: who the credential is, in which tenant, with which scopes.
import type { FastifyInstance } from 'fastify';
import { userView, type UserRow } from '../services/views.js';

export async function identityPlugin(app: FastifyInstance): Promise<void> {
  const { router, db } = app.hub;
  router.register(app, {
    getMe: async (req) => {
      const p = req.principal!;
      const { suspended_at, ...tenant } = p.tenant;
      const needsUser = p.kind === 'user' && p.userId;
      const [user, apiKey] = await Promise.all([
        needsUser
          ? db.query<UserRow>('select id, email, name, created_at from users where id = $1', [p.userId]).then((r) => (r.rows[0] ? userView(r.rows[0]) : null))
          : null,
        p.apiKey,
      ]);
      return {
        kind: p.kind,
        user,
        api_key: apiKey,
        tenant: { ...tenant, status: suspended_at ? 'suspended' : 'active' },
        role: p.role,
        scopes: [...p.scopes],
        plan: p.tenant.plan,
        is_instance_admin: p.isInstanceAdmin,
      };
    },
  });
}
