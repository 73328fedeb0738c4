import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import {
  CheckViolationError,
  DatabaseRoleError,
  ForeignKeyViolationError,
  RowSecurityViolationError,
  TransactionAbortedError,
  UniqueViolationError,
} from '../../src/db/errors.js';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../helpers/db.js';

// Two tenants with one row in every tenant table each, written as the owner (who bypasses nothing: superuser).
const A = 'ten_a';
const B = 'ten_b';

async function seed(url: string): Promise<void> {
  for (const t of [A, B]) {
    const u = `usr_${t}`;
    await ownerQuery(url, `INSERT INTO tenants (id, name) VALUES ($1, $2)`, [t, `Tenant ${t}`]);
    await ownerQuery(url, `INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'x')`, [u, `${u}@example.com`]);
    await ownerQuery(url, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, [t, u]);
    await ownerQuery(
      url,
      `INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes, created_by_user_id)
       VALUES ($1, $2, 'ci', 'gc_live_x', 'hash', '{runs:read}', $3)`,
      [`key_${t}`, t, u],
    );
    await ownerQuery(url, `INSERT INTO auth_sessions (id, tenant_id, user_id) VALUES ($1, $2, $3)`, [`ses_${t}`, t, u]);
    await ownerQuery(
      url,
      `INSERT INTO refresh_tokens (id, tenant_id, session_id, token_hash, expires_at)
       VALUES ($1, $2, $3, $4, now() + interval '1 day')`,
      [`rt_${t}`, t, `ses_${t}`, `hash_${t}`],
    );
  }
}

/** How many rows of the tenant the tables still hold, read as the owner (past row-level security). */
async function tenantRowsLeft(tenantId: string, tables: string[]): Promise<number> {
  const { rows } = await ownerQuery(
    testDb.ownerUrl,
    `SELECT ${tables.map((t) => `(SELECT count(*) FROM ${t} WHERE tenant_id = $1)`).join(' + ')} AS n`,
    [tenantId],
  );
  return Number(rows[0]?.n);
}

/**
 * Each tenant table, its tenant column, and an insert of a row for tenant `t` that passes every other constraint
 * (for tenants, the new tenant's own row: a tenant transaction may create only itself).
 */
const TENANT_TABLES: { table: string; column: string; insert: (t: string) => [string, unknown[]] }[] = [
  { table: 'tenants', column: 'id', insert: (t) => ['INSERT INTO tenants (id, name) VALUES ($1, $2)', [t, 'x']] },
  {
    table: 'memberships',
    column: 'tenant_id',
    insert: (t) => [`INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, 'usr_ten_c', 'member')`, [t]],
  },
  {
    table: 'api_keys',
    column: 'tenant_id',
    insert: (t) => [
      `INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes) VALUES ($1, $2, 'n', 'p', 'h', '{}')`,
      [`key_new_${t}`, t],
    ],
  },
  {
    table: 'auth_sessions',
    column: 'tenant_id',
    insert: (t) => [`INSERT INTO auth_sessions (id, tenant_id, user_id) VALUES ($1, $2, $3)`, [`ses_new_${t}`, t, `usr_${t}`]],
  },
  {
    table: 'refresh_tokens',
    column: 'tenant_id',
    insert: (t) => [
      `INSERT INTO refresh_tokens (id, tenant_id, session_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, now())`,
      [`rt_new_${t}`, t, `ses_${t}`, `hash_new_${t}`],
    ],
  },
];

let testDb: TestDatabase;
let db: Database;

beforeAll(async () => {
  testDb = await createTestDatabase();
  await seed(testDb.ownerUrl);
  await ownerQuery(testDb.ownerUrl, `INSERT INTO users (id, email, password_hash) VALUES ('usr_ten_c', 'c@example.com', 'x')`);
  db = openDatabase({ ownerUrl: testDb.ownerUrl, appUrl: testDb.appUrl });
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

describe('row-level security for the app role', () => {
  it.each(TENANT_TABLES)('$table: a tenant transaction sees only its own rows', async ({ table, column }) => {
    const rows = await db.tenant(A, async (q) => (await q.query(`SELECT ${column} AS t FROM ${table}`)).rows);
    expect(rows).toEqual([{ t: A }]);
  });

  it.each(TENANT_TABLES)('$table: without a tenant nothing is visible', async ({ table }) => {
    expect((await db.query(`SELECT * FROM ${table}`)).rowCount).toBe(0);
    expect(await db.global(async (q) => (await q.query(`SELECT * FROM ${table}`)).rowCount)).toBe(0);
  });

  it.each(TENANT_TABLES)("$table: writing a row of another tenant fails the policy's WITH CHECK", async ({ table, insert }) => {
    const [sql, values] = insert(B);
    await expect(db.tenant(A, (q) => q.query(sql, values))).rejects.toBeInstanceOf(RowSecurityViolationError);
    // The same statement for the transaction's own tenant passes, so it is the policy that refused it.
    const own = table === 'tenants' ? 'ten_c' : A;
    const [ownSql, ownValues] = insert(own);
    await db.tenant(own, async (q) => {
      await q.query('SAVEPOINT s');
      await q.query(ownSql, ownValues);
      await q.query('ROLLBACK TO SAVEPOINT s');
    });
  });

  it.each(TENANT_TABLES)("$table: another tenant's rows cannot be updated, deleted or adopted", async ({ table, column }) => {
    const counts = await db.tenant(A, async (q) => ({
      updated: (await q.query(`UPDATE ${table} SET ${column} = ${column} WHERE ${column} = $1`, [B])).rowCount,
      deleted: (await q.query(`DELETE FROM ${table} WHERE ${column} = $1`, [B])).rowCount,
    }));
    expect(counts).toEqual({ updated: 0, deleted: 0 });
    if (table !== 'tenants') {
      // Moving an own row to the other tenant is a write the policy checks too.
      await expect(db.tenant(A, (q) => q.query(`UPDATE ${table} SET tenant_id = $1`, [B]))).rejects.toBeInstanceOf(
        RowSecurityViolationError,
      );
    }
    const { rows } = await ownerQuery(testDb.ownerUrl, `SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`, [B]);
    expect(rows[0]).toEqual({ n: 1 });
  });

  it('a tenant id is data, never SQL', async () => {
    const hostile = `${A}', true); DROP TABLE users; --`;
    expect(await db.tenant(hostile, async (q) => (await q.query('SELECT * FROM api_keys')).rowCount)).toBe(0);
    expect(await db.tenant(hostile, async (q) => (await q.query("SELECT current_setting('app.tenant_id') AS t")).rows)).toEqual([
      { t: hostile },
    ]);
    expect((await ownerQuery(testDb.ownerUrl, "SELECT to_regclass('users') IS NOT NULL AS ok")).rows[0]).toEqual({ ok: true });
  });

  it('the tenant setting ends with its transaction, so pooled connections never carry it over', async () => {
    const single = openDatabase({ ownerUrl: testDb.ownerUrl, appUrl: testDb.appUrl, max: 1 });
    try {
      await single.tenant(A, (q) => q.query('SELECT 1'));
      expect((await single.query('SELECT count(*)::int AS n FROM api_keys')).rows[0]).toEqual({ n: 0 });
      await expect(single.tenant(A, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      expect((await single.query('SELECT count(*)::int AS n FROM api_keys')).rows[0]).toEqual({ n: 0 });
    } finally {
      await single.close();
    }
  });

  it('deleting a tenant in its own context removes all its rows through the cascades', async () => {
    const id = 'ten_doomed';
    await ownerQuery(testDb.ownerUrl, `INSERT INTO tenants (id, name) VALUES ($1, 'doomed')`, [id]);
    await ownerQuery(testDb.ownerUrl, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, 'usr_ten_a', 'member')`, [id]);
    await ownerQuery(testDb.ownerUrl, `INSERT INTO auth_sessions (id, tenant_id, user_id) VALUES ('ses_doomed', $1, 'usr_ten_a')`, [id]);
    await ownerQuery(
      testDb.ownerUrl,
      `INSERT INTO refresh_tokens (id, tenant_id, session_id, token_hash, expires_at) VALUES ('rt_doomed', $1, 'ses_doomed', 'h_doomed', now())`,
      [id],
    );
    await ownerQuery(
      testDb.ownerUrl,
      `INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes) VALUES ('key_doomed', $1, 'n', 'p', 'h', '{}')`,
      [id],
    );
    const deleted = await db.tenant(id, async (q) => (await q.query('DELETE FROM tenants WHERE id = $1', [id])).rowCount);
    expect(deleted).toBe(1);
    expect(await tenantRowsLeft(id, ['memberships', 'api_keys', 'auth_sessions', 'refresh_tokens'])).toBe(0);
  });

  it('deleting a tenant removes its runs with their events and outbox rows, and its usage records', async () => {
    const id = 'ten_doomed_runs';
    await ownerQuery(testDb.ownerUrl, `INSERT INTO tenants (id, name) VALUES ($1, 'doomed runs')`, [id]);
    await db.tenant(id, async (q) => {
      await q.query(`INSERT INTO runs (id, tenant_id, agent_id, agent_name, timeout_seconds) VALUES ('run_doomed', $1, 'agt_echo', 'echo', 60)`, [id]);
      await q.query(`INSERT INTO run_events (id, tenant_id, run_id, seq, type) VALUES ('evt_doomed', $1, 'run_doomed', 1, 'run.queued')`, [id]);
      await q.query(`INSERT INTO run_outbox (run_id, tenant_id, attempt) VALUES ('run_doomed', $1, 1)`, [id]);
      await q.query(`INSERT INTO usage_records (run_id, tenant_id, agent_name, status) VALUES ('run_doomed', $1, 'echo', 'succeeded')`, [id]);
    });
    expect(await db.tenant(id, async (q) => (await q.query('DELETE FROM tenants WHERE id = $1', [id])).rowCount)).toBe(1);
    expect(await tenantRowsLeft(id, ['runs', 'run_events', 'run_outbox', 'usage_records'])).toBe(0);
  });

  it.each([
    ['run_events', `INSERT INTO run_events (id, tenant_id, run_id, seq, type) VALUES ('evt_orphan', $1, 'run_missing', 1, 'run.queued')`],
    ['run_outbox', `INSERT INTO run_outbox (run_id, tenant_id, attempt) VALUES ('run_missing', $1, 1)`],
  ])('%s: a row cannot name a run that does not exist', async (_table, sql) => {
    await expect(db.tenant(A, (q) => q.query(sql, [A]))).rejects.toBeInstanceOf(ForeignKeyViolationError);
  });

  it("a refresh token cannot join another tenant's session", async () => {
    await expect(
      db.tenant(A, (q) =>
        q.query(
          `INSERT INTO refresh_tokens (id, tenant_id, session_id, token_hash, expires_at) VALUES ('rt_x', $1, 'ses_ten_b', 'h_x', now())`,
          [A],
        ),
      ),
    ).rejects.toBeInstanceOf(ForeignKeyViolationError);
  });
});

describe('the app role', () => {
  it('is no superuser, cannot bypass row-level security and owns nothing', async () => {
    const { rows } = await db.query(
      `SELECT current_user AS role, rolsuper, rolbypassrls,
              (SELECT count(*)::int FROM pg_class WHERE relowner = r.oid) AS owned
         FROM pg_roles r WHERE rolname = current_user`,
    );
    expect(rows).toEqual([{ role: 'gcorp_app', rolsuper: false, rolbypassrls: false, owned: 0 }]);
    await expect(db.checkRole()).resolves.toBeUndefined();
  });

  it('cannot switch row-level security off, or become the definer role', async () => {
    await expect(db.query('ALTER TABLE api_keys DISABLE ROW LEVEL SECURITY')).rejects.toThrow(/must be owner/);
    await expect(db.query('ALTER TABLE api_keys NO FORCE ROW LEVEL SECURITY')).rejects.toThrow(/must be owner/);
    await expect(db.global((q) => q.query('SET LOCAL ROLE gcorp_definer'))).rejects.toThrow(/permission denied/);
    await expect(db.query('CREATE TABLE mine (id int)')).rejects.toThrow(/permission denied/);
    await expect(db.query('SELECT * FROM schema_migrations')).rejects.toThrow(/permission denied/);
  });

  it('checkRole refuses a superuser connection', async () => {
    const asOwner = openDatabase({ ownerUrl: testDb.ownerUrl, appUrl: testDb.ownerUrl });
    try {
      const failure = await asOwner.checkRole().catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(DatabaseRoleError);
      expect((failure as DatabaseRoleError).problems.join('; ')).toMatch(/superuser/);
      expect((failure as DatabaseRoleError).problems.join('; ')).toMatch(/BYPASSRLS/);
    } finally {
      await asOwner.close();
    }
  });

  it('may use the global tables it needs, and only read and update the instance state', async () => {
    await db.query(`INSERT INTO users (id, email, password_hash) VALUES ('usr_g', 'g@example.com', 'x')`);
    await db.query(`UPDATE instance_state SET bootstrapped_at = now()`);
    expect((await db.query('SELECT count(*)::int AS n FROM instance_state')).rows[0]).toEqual({ n: 1 });
    await expect(db.query('DELETE FROM instance_state')).rejects.toThrow(/permission denied/);
    await db.query(
      `INSERT INTO device_codes (device_code_hash, user_code, client_id, expires_at) VALUES ('dc', 'ABCD-EFGH', 'gcorp-cli', now())`,
    );
    await db.query(`DELETE FROM device_codes`);
    await db.query(`DELETE FROM users WHERE id = 'usr_g'`);
  });
});

describe('SECURITY DEFINER look-ups', () => {
  it('find an API key of any tenant, with its tenant plan, before a tenant is known', async () => {
    const { rows } = await db.query('SELECT * FROM gcorp_api_key_for_auth($1)', ['key_ten_b']);
    expect(rows).toEqual([
      expect.objectContaining({
        id: 'key_ten_b',
        tenant_id: B,
        secret_hash: 'hash',
        scopes: ['runs:read'],
        created_by_user_id: 'usr_ten_b',
        tenant_plan: 'free',
        tenant_suspended_at: null,
        revoked_at: null,
      }),
    ]);
    // Also from inside another tenant's transaction, and nothing for unknown ids.
    expect((await db.tenant(A, (q) => q.query('SELECT id FROM gcorp_api_key_for_auth($1)', ['key_ten_b']))).rows).toEqual([
      { id: 'key_ten_b' },
    ]);
    expect((await db.query('SELECT * FROM gcorp_api_key_for_auth($1)', ['key_nope'])).rowCount).toBe(0);
  });

  it('find a refresh token by hash with its session', async () => {
    const { rows } = await db.query('SELECT * FROM gcorp_refresh_token_for_auth($1)', ['hash_ten_b']);
    expect(rows).toEqual([
      expect.objectContaining({ id: 'rt_ten_b', tenant_id: B, session_id: 'ses_ten_b', user_id: 'usr_ten_b', used_at: null, session_revoked_at: null }),
    ]);
    expect((await db.query('SELECT * FROM gcorp_refresh_token_for_auth($1)', ['hash_nope'])).rowCount).toBe(0);
  });

  it("list a user's tenants, oldest membership first", async () => {
    await ownerQuery(testDb.ownerUrl, `INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, 'usr_ten_a', 'member', now() + interval '1 minute')`, [B]);
    try {
      const { rows } = await db.query('SELECT * FROM gcorp_user_memberships($1)', ['usr_ten_a']);
      expect(rows.map((r) => [r.tenant_id, r.role, r.tenant_name])).toEqual([
        [A, 'owner', `Tenant ${A}`],
        [B, 'member', `Tenant ${B}`],
      ]);
    } finally {
      await ownerQuery(testDb.ownerUrl, `DELETE FROM memberships WHERE tenant_id = $1 AND user_id = 'usr_ten_a'`, [B]);
    }
  });

  it('page through all tenants and read any one for the instance admin', async () => {
    const first = await db.query('SELECT id FROM gcorp_admin_list_tenants(NULL, 1)');
    expect(first.rows).toEqual([{ id: A }]);
    const next = await db.query('SELECT id FROM gcorp_admin_list_tenants($1, 10)', [A]);
    expect(next.rows).toEqual([{ id: B }]);
    const one = await db.query('SELECT id, name, plan, limits FROM gcorp_admin_tenant($1)', [B]);
    expect(one.rows).toEqual([{ id: B, name: `Tenant ${B}`, plan: 'free', limits: {} }]);
  });

  it('are executable by gcorp_app only', async () => {
    const { rows } = await ownerQuery<{ fn: string; grantees: string[] }>(
      testDb.ownerUrl,
      `SELECT p.proname AS fn,
              ARRAY(SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END
                      FROM aclexplode(p.proacl) a WHERE a.privilege_type = 'EXECUTE' ORDER BY 1) AS grantees,
              pg_get_userbyid(p.proowner) AS owner, p.prosecdef AS definer,
              array_to_string(p.proconfig, ',') AS config
         FROM pg_proc p WHERE p.proname LIKE 'gcorp\\_%' AND p.prosecdef ORDER BY 1`,
    );
    expect(rows.map((r) => r.fn)).toEqual([
      'gcorp_admin_list_tenants',
      'gcorp_admin_tenant',
      'gcorp_api_key_for_auth',
      'gcorp_compact_rollups',
      'gcorp_expire_idempotency_keys',
      'gcorp_outbox_due',
      'gcorp_refresh_token_for_auth',
      'gcorp_runs_lapsed',
      'gcorp_runs_stale_queued',
      'gcorp_user_memberships',
    ]);
    for (const row of rows) {
      expect(row, row.fn).toMatchObject({
        grantees: ['gcorp_app', 'gcorp_definer'],
        owner: 'gcorp_definer',
        config: 'search_path=public, pg_temp',
      });
    }
  });
});

describe('errors services can map', () => {
  it('a duplicate email, in any letter case, is a UniqueViolationError naming the index', async () => {
    const failure = await db
      .query(`INSERT INTO users (id, email, password_hash) VALUES ('usr_dup', 'USR_TEN_A@example.com', 'x')`)
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UniqueViolationError);
    expect(failure).toMatchObject({ code: '23505', constraint: 'users_email_lower_key', table: 'users' });
  });

  it('an unknown plan is a CheckViolationError', async () => {
    await expect(db.tenant(A, (q) => q.query(`UPDATE tenants SET plan = 'gold'`))).rejects.toBeInstanceOf(CheckViolationError);
  });

  it('a failed statement whose error the callback swallowed does not pass for a commit', async () => {
    const attempt = db.tenant(A, async (q) => {
      await q.query(`UPDATE tenants SET name = 'renamed'`);
      await q.query(`INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, 'usr_ten_a', 'member')`, [A]).catch(() => undefined);
      return 'done';
    });
    await expect(attempt).rejects.toBeInstanceOf(TransactionAbortedError);
    expect((await ownerQuery(testDb.ownerUrl, 'SELECT name FROM tenants WHERE id = $1', [A])).rows[0]).toEqual({ name: `Tenant ${A}` });
  });

  it('a query issued after its transaction ended is refused', async () => {
    let leaked: { query: (text: string) => Promise<unknown> } | undefined;
    await db.tenant(A, async (q) => {
      leaked = q;
    });
    await expect(leaked?.query('SELECT 1')).rejects.toThrow(/after its database transaction had ended/);
  });
});
