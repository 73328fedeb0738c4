import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TENANT_TABLES } from '../src/services/tenants.js';
import { bootstrap, createTenant, login, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

let t: TestHub;
let admin: Tenant;

beforeAll(async () => {
  t = await startTestHub();
  admin = await bootstrap(t);
});
afterAll(async () => t?.close());

async function ownerCount(sql: string, values: unknown[]): Promise<number> {
  const client = new pg.Client({ connectionString: t.ownerUrl });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows[0].n;
  } finally {
    await client.end();
  }
}

describe('GDPR export and erase', () => {
  it('exports the tenant\'s data without any secret or hash', async () => {
    const tenant = await createTenant(t, admin, 'Exported');
    await t.as(tenant.key).call('POST', '/v1/members', { body: { email: 'exp-member@example.com', password: 'member password 1', role: 'member' } });
    const run = await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { hello: 'export' } } });
    await t.as(tenant.key).call('GET', `/v1/runs/${run.body.id}/wait?timeout=20`);
    await t.as(tenant.key).call('POST', '/v1/agents', {
      body: { name: 'hook', runtime: 'webhook', config: { url: 'https://hooks.example.com/x', signing_secret: 'whsec_0123456789abcdef' } },
    });
    const res = await t.as(tenant.key).call('GET', '/v1/tenant/export');
    expect(res.status).toBe(200);
    expect(res.body.runs.map((r: { id: string }) => r.id)).toEqual([run.body.id]);
    expect(res.body.events.filter((e: { run_id: string }) => e.run_id === run.body.id).at(-1).type).toBe('run.completed');
    expect(res.body.usage).toEqual([expect.objectContaining({ group: 'echo', runs: 1 })]);
    expect(res.body.agents.map((a: { name: string }) => a.name)).toEqual(['hook']);
    expect(res.body.tenant.id).toBe(tenant.tenantId);
    expect(res.body.members.map((m: { email: string }) => m.email).sort()).toEqual(['exp-member@example.com', tenant.email]);
    expect(res.body.api_keys.length).toBeGreaterThan(0);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(tenant.key);
    expect(text).not.toMatch(/secret_hash|password_hash|\$argon2|whsec_|secret_enc/);
  });

  it('erases only with the tenant id as confirmation, then nothing of the tenant is left', async () => {
    const tenant = await createTenant(t, admin, 'Erased');
    const session = await login(t, tenant);
    const run = await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: 1 }, headers: { 'idempotency-key': 'k1' } });
    await t.as(tenant.key).call('GET', `/v1/runs/${run.body.id}/wait?timeout=20`);
    const wrong = await t.as(tenant.key).call('DELETE', '/v1/tenant', { body: { confirm: 'yes please' } });
    expect(wrong.status).toBe(400);
    const res = await t.as(tenant.key).call('DELETE', '/v1/tenant', { body: { confirm: tenant.tenantId } });
    expect(res.status).toBe(202);
    expect(res.body.tenant_id).toBe(tenant.tenantId);
    expect((await t.as(tenant.key).call('GET', '/v1/me')).status).toBe(401);
    expect((await t.as(session.access_token).call('GET', '/v1/me')).status).toBe(401);
    for (const table of ['tenants', ...TENANT_TABLES.map((x) => x.table)]) {
      const column = table === 'tenants' ? 'id' : 'tenant_id';
      expect(await ownerCount(`select count(*)::int as n from ${table} where ${column} = $1`, [tenant.tenantId]), table).toBe(0);
    }
    expect(await ownerCount('select count(*)::int as n from users where email = $1', [tenant.email])).toBe(0);
    // Every table that holds tenant data is covered by the erase (and listed for the export).
    const client = new pg.Client({ connectionString: t.ownerUrl });
    await client.connect();
    const tables = await client.query<{ table_name: string }>(
      `select table_name from information_schema.columns where column_name = 'tenant_id' and table_schema = 'public' order by 1`,
    );
    await client.end();
    expect(tables.rows.map((r) => r.table_name).sort()).toEqual(TENANT_TABLES.map((x) => x.table).sort());
    // Other tenants are untouched.
    expect((await t.as(admin.key).call('GET', '/v1/me')).status).toBe(200);
  });
});
