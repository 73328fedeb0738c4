// Tenants and their people: the tenant record, members and roles, instance-admin provisioning, GDPR export and erase.
import type { Database, Queryable } from '../db/database.js';
import { ProblemError, badRequest, conflict, forbidden, notFound } from '../http/problem.js';
import { newId } from '../ids.js';
import { eventView } from '../runs/events.js';
import { runView } from '../runs/service.js';
import { agentRowView } from './agents.js';
import { insertApiKey } from './api-keys.js';
import { hashPassword } from './passwords.js';
import { tenantProviderView } from './providers.js';
import { ALL_SCOPES, TENANT_SCOPES, type Principal, type PrincipalResolver, type Role } from './principal.js';
import {
  adminTenantView,
  apiKeyView,
  memberView,
  tenantView,
  userView,
  type MemberRow,
  type TenantRow,
  type UserRow,
} from './views.js';

/**
 * Every tenant table, with how the GDPR export presents it (the API's own object shapes; secrets and hashes never
 * leave). Erase relies on ON DELETE CASCADE from tenants, and the erase test checks each of these ends empty.
 * A new tenant table joins this list.
 */
export const TENANT_TABLES: { table: string; exportAs?: string; sql?: string; map?: (row: never) => unknown }[] = [
  { table: 'memberships' },
  { table: 'device_codes' }, // approved device codes name their tenant until they expire
  { table: 'auth_sessions' },
  { table: 'refresh_tokens' },
  { table: 'idempotency_keys' },
  { table: 'run_outbox' },
  { table: 'quota_counters' },
  { table: 'usage_records' },
  { table: 'api_keys', exportAs: 'api_keys', sql: 'select * from api_keys order by id', map: apiKeyView },
  { table: 'agents', exportAs: 'agents', sql: 'select * from agents order by id', map: agentRowView },
  { table: 'runs', exportAs: 'runs', sql: 'select * from runs order by id', map: runView },
  {
    table: 'run_events',
    exportAs: 'events',
    sql: 'select id, run_id, seq, type, data, created_at from run_events order by run_id, seq',
    map: eventView,
  },
  {
    table: 'usage_rollups',
    exportAs: 'usage',
    sql: `select bucket, dim_key, sum(runs) as runs, sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
                 sum(run_seconds) as run_seconds
            from usage_rollups where granularity = 'day' and dim = 'agent' group by bucket, dim_key order by bucket, dim_key`,
    map: (r: { bucket: Date; dim_key: string; runs: string; input_tokens: string; output_tokens: string; run_seconds: number }) => ({
      start: r.bucket.toISOString(),
      end: new Date(r.bucket.getTime() + 86_400_000).toISOString(),
      group: r.dim_key,
      runs: Number(r.runs),
      input_tokens: Number(r.input_tokens),
      output_tokens: Number(r.output_tokens),
      run_seconds: r.run_seconds,
    }),
  },
  // The tenant's own model-provider settings: the API key is never exported (only whether one is set, its last 4).
  { table: 'tenant_providers', exportAs: 'providers', sql: 'select * from tenant_providers order by provider', map: tenantProviderView },
];

export async function setTenant(q: Queryable, tenantId: string): Promise<void> {
  await q.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
}

function mapUnique(err: unknown, detail: string, code = 'already_exists'): never {
  if ((err as { code?: string }).code === '23505') throw conflict(detail, code);
  throw err;
}

/** The instance admin's own tenant cannot be erased or suspended: it would lock the operator out. */
async function assertNotProtected(q: Queryable): Promise<void> {
  const res = await q.query('select 1 from memberships m join users u on u.id = m.user_id where u.is_instance_admin limit 1');
  if ((res.rowCount ?? 0) > 0) {
    throw conflict('This tenant holds the instance administrator; it cannot be erased or suspended.', 'tenant_protected');
  }
}

export interface ProvisionInput {
  tenantName: string;
  plan: string;
  email: string;
  password: string;
  name?: string | null;
  instanceAdmin: boolean;
}

/** Creates a tenant, its owner and an all-scopes key in one transaction (bootstrap and instance admin). */
export async function provisionTenant(q: Queryable, input: ProvisionInput) {
  const tenantId = newId('ten');
  const userId = newId('usr');
  const passwordHash = await hashPassword(input.password);
  const user = await q
    .query<UserRow>(
      `insert into users (id, email, name, password_hash, is_instance_admin) values ($1, $2, $3, $4, $5)
       returning id, email, name, created_at`,
      [userId, input.email, input.name ?? null, passwordHash, input.instanceAdmin],
    )
    .catch((err) => mapUnique(err, `An account with email ${input.email} already exists.`, 'email_taken'));
  await setTenant(q, tenantId);
  const tenant = await q.query<TenantRow>(
    `insert into tenants (id, name, plan) values ($1, $2, $3) returning *`,
    [tenantId, input.tenantName, input.plan],
  );
  await q.query(`insert into memberships (tenant_id, user_id, role) values ($1, $2, 'owner')`, [tenantId, userId]);
  const scopes = input.instanceAdmin ? [...ALL_SCOPES] : [...TENANT_SCOPES];
  const apiKey = await insertApiKey(q, tenantId, {
    name: input.instanceAdmin ? 'bootstrap' : 'owner',
    scopes,
    createdByUserId: userId,
  });
  return { tenant: tenantView(tenant.rows[0]!), user: userView(user.rows[0]!), api_key: apiKey };
}

const MEMBER_SELECT = `select u.id, u.email, u.name, u.created_at, m.role, m.created_at as member_since
  from memberships m join users u on u.id = m.user_id`;

export class TenantService {
  constructor(
    private readonly db: Database,
    private readonly principals: PrincipalResolver,
  ) {}

  async get(tenantId: string) {
    return this.db.tenant(tenantId, async (q) => {
      const res = await q.query<TenantRow>('select * from tenants where id = $1', [tenantId]);
      return tenantView(res.rows[0]!);
    });
  }

  async update(tenantId: string, patch: { name?: string }) {
    const out = await this.db.tenant(tenantId, async (q) => {
      const res = await q.query<TenantRow>(
        'update tenants set name = coalesce($2, name), updated_at = now() where id = $1 returning *',
        [tenantId, patch.name ?? null],
      );
      return tenantView(res.rows[0]!);
    });
    await this.principals.invalidate(`tenant:${tenantId}`);
    return out;
  }

  async listMembers(tenantId: string, after: string | null, limit: number) {
    return this.db.tenant(tenantId, async (q) => {
      const res = await q.query<MemberRow>(
        `${MEMBER_SELECT} where ($1::text is null or u.id > $1) order by u.id limit $2`,
        [after, limit + 1],
      );
      return res.rows.map(memberView);
    });
  }

  /** Adds a person with a new account; an email already on the instance is 409 email_taken (see openapi.yaml). */
  async addMember(principal: Principal, input: { email: string; name?: string; password: string; role: Role }) {
    if (input.role === 'owner' && principal.role !== 'owner' && principal.kind === 'user') {
      throw forbidden('Only an owner can add another owner.');
    }
    const passwordHash = await hashPassword(input.password);
    return this.db.tenant(principal.tenantId, async (q) => {
      const userId = newId('usr');
      await q
        .query('insert into users (id, email, name, password_hash) values ($1, $2, $3, $4)', [userId, input.email, input.name ?? null, passwordHash])
        .catch((err) => mapUnique(err, `An account with email ${input.email} already exists on this instance.`, 'email_taken'));
      await q.query('insert into memberships (tenant_id, user_id, role) values ($1, $2, $3)', [principal.tenantId, userId, input.role]);
      const res = await q.query<MemberRow>(`${MEMBER_SELECT} where u.id = $1`, [userId]);
      return memberView(res.rows[0]!);
    });
  }

  async updateMember(principal: Principal, userId: string, role: Role) {
    const out = await this.db.tenant(principal.tenantId, async (q) => {
      const current = await q.query<{ role: Role }>('select role from memberships where user_id = $1 for update', [userId]);
      if (!current.rows[0]) throw notFound('Member', userId);
      if ((current.rows[0].role === 'owner' || role === 'owner') && principal.kind === 'user' && principal.role !== 'owner') {
        throw forbidden('Only an owner can make or unmake owners.');
      }
      if (current.rows[0].role === 'owner' && role !== 'owner') await this.keepAnOwner(q, userId);
      await q.query('update memberships set role = $2 where user_id = $1', [userId, role]);
      const res = await q.query<MemberRow>(`${MEMBER_SELECT} where u.id = $1`, [userId]);
      return memberView(res.rows[0]!);
    });
    await this.principals.invalidate(`tenant:${principal.tenantId}`);
    return out;
  }

  async removeMember(principal: Principal, userId: string): Promise<void> {
    await this.db.tenant(principal.tenantId, async (q) => {
      const current = await q.query<{ role: Role }>('select role from memberships where user_id = $1 for update', [userId]);
      if (!current.rows[0]) throw notFound('Member', userId);
      if (current.rows[0].role === 'owner') {
        if (principal.kind === 'user' && principal.role !== 'owner') throw forbidden('Only an owner can remove an owner.');
        await this.keepAnOwner(q, userId);
      }
      await q.query('delete from memberships where user_id = $1', [userId]);
      await q.query(`update auth_sessions set revoked_at = now(), revoked_reason = 'removed' where user_id = $1 and revoked_at is null`, [userId]);
    });
    await this.principals.invalidate(`tenant:${principal.tenantId}`);
  }

  private async keepAnOwner(q: Queryable, leavingUserId: string): Promise<void> {
    const owners = await q.query(`select 1 from memberships where role = 'owner' and user_id <> $1 for update`, [leavingUserId]);
    if ((owners.rowCount ?? 0) === 0) throw conflict('A tenant must keep at least one owner.', 'last_owner');
  }

  /** GDPR export: everything the tenant holds, secrets excepted (key hashes and password hashes never leave). */
  async export(tenantId: string) {
    return this.db.tenant(tenantId, async (q) => {
      const tenant = await q.query<TenantRow>('select * from tenants where id = $1', [tenantId]);
      const members = await q.query<MemberRow>(`${MEMBER_SELECT} order by u.id`);
      const out: Record<string, unknown> = {
        exported_at: new Date().toISOString(),
        tenant: tenantView(tenant.rows[0]!),
        members: members.rows.map(memberView),
        api_keys: [],
        agents: [],
        runs: [],
        events: [],
        usage: [],
      };
      for (const t of TENANT_TABLES) {
        if (!t.exportAs || !t.sql || !t.map) continue;
        const rows = await q.query(t.sql);
        out[t.exportAs] = rows.rows.map((r) => t.map!(r as never));
      }
      return out;
    });
  }

  /** GDPR erase: the tenant and every row it owns; accounts that belonged only to it go too. */
  async erase(principal: Principal, confirm: string) {
    if (confirm !== principal.tenantId) {
      throw badRequest(`To erase this tenant, send confirm equal to its id (${principal.tenantId}).`, [
        { field: '/body/confirm', message: 'must equal the tenant id' },
      ], 'confirmation_mismatch');
    }
    if (principal.kind === 'user' && principal.role !== 'owner') throw forbidden('Only an owner can erase the tenant.');
    const erasedAt = await this.db.tenant(principal.tenantId, async (q) => {
      await assertNotProtected(q);
      const members = await q.query<{ user_id: string }>('select user_id from memberships');
      await q.query('delete from tenants where id = $1', [principal.tenantId]);
      const ids = members.rows.map((m) => m.user_id);
      // Accounts with no tenant left and no instance role are personal data with no purpose: erase them too.
      await q.query(
        `delete from users u where u.id = any($1::text[]) and not u.is_instance_admin
           and not exists (select 1 from gcorp_user_memberships(u.id))`,
        [ids],
      );
      return new Date().toISOString();
    });
    await this.principals.invalidate('all');
    return { tenant_id: principal.tenantId, erased_at: erasedAt };
  }
}

export class AdminService {
  constructor(
    private readonly db: Database,
    private readonly principals: PrincipalResolver,
  ) {}

  async createTenant(input: { name: string; plan: string; owner_email: string; owner_password: string }) {
    return this.db.global((q) =>
      provisionTenant(q, {
        tenantName: input.name,
        plan: input.plan,
        email: input.owner_email,
        password: input.owner_password,
        instanceAdmin: false,
      }),
    );
  }

  async list(after: string | null, limit: number) {
    const res = await this.db.query<TenantRow>('select * from gcorp_admin_list_tenants($1, $2)', [after, limit + 1]);
    return res.rows.map(adminTenantView);
  }

  async update(id: string, patch: { plan?: string; limits?: Record<string, number | null>; suspended?: boolean }) {
    const found = await this.db.query<TenantRow>('select * from gcorp_admin_tenant($1)', [id]);
    if (!found.rows[0]) throw notFound('Tenant', id);
    const out = await this.db.tenant(id, async (q) => {
      if (patch.suspended) await assertNotProtected(q);
      const res = await q.query<TenantRow>(
        `update tenants set
            plan = coalesce($2, plan),
            limits = case when $3::jsonb is null then limits else jsonb_strip_nulls(limits || $3::jsonb) end,
            suspended_at = case when $4::boolean is null then suspended_at
                                when $4 then coalesce(suspended_at, now()) else null end,
            updated_at = now()
          where id = $1 returning *`,
        [id, patch.plan ?? null, patch.limits ? JSON.stringify(patch.limits) : null, patch.suspended ?? null],
      );
      if (!res.rows[0]) throw new ProblemError(404, 'not_found', `Tenant ${id} does not exist`);
      return adminTenantView(res.rows[0]);
    });
    await this.principals.invalidate(`tenant:${id}`);
    return out;
  }
}
