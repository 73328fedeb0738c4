import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listOperations, loadSpec } from '@genericcorp/contract';
import { bootstrap, createTenant, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

let t: TestHub;
let admin: Tenant;
let a: Tenant;
let b: Tenant;
const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await startTestHub();
  admin = await bootstrap(t);
  a = await createTenant(t, admin, 'Alpha');
  b = await createTenant(t, admin, 'Beta');
  const key = await t.as(a.key).call('POST', '/v1/api-keys', { body: { name: 'alpha-key', scopes: ['runs:read'] } });
  ids.apiKey = key.body.id;
  const agent = await t.as(a.key).call('POST', '/v1/agents', {
    body: { name: 'alpha-bot', runtime: 'model', config: { model: 'claude-sonnet-4-5' } },
  });
  ids.agent = agent.body.id;
  const run = await t.as(a.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { delay_ms: 60000 } } });
  ids.run = run.body.id;
  const member = await t.as(a.key).call('POST', '/v1/members', {
    body: { email: 'alpha-member@example.com', password: 'a member password', role: 'member' },
  });
  ids.member = member.body.id;
});
afterAll(async () => t?.close());

// Every operation that takes a tenant object's id, with the id of tenant A's object and a body B could send.
const FIXTURES: Record<string, { id: () => string; body?: unknown }> = {
  getApiKey: { id: () => ids.apiKey! },
  revokeApiKey: { id: () => ids.apiKey! },
  rotateApiKey: { id: () => ids.apiKey! },
  updateMember: { id: () => ids.member!, body: { role: 'admin' } },
  deleteMember: { id: () => ids.member! },
  getAgent: { id: () => ids.agent! },
  updateAgent: { id: () => ids.agent!, body: { description: 'hijacked' } },
  deleteAgent: { id: () => ids.agent! },
  getRun: { id: () => ids.run! },
  cancelRun: { id: () => ids.run! },
  listRunEvents: { id: () => ids.run! },
  waitRun: { id: () => ids.run! },
};

describe('tenant isolation', () => {
  it('answers 404 to every tenant-scoped operation given another tenant\'s id', async () => {
    const ops = listOperations(loadSpec()).filter(
      (op) => op.path.includes('{id}') && !op.path.startsWith('/v1/admin/'),
    );
    expect(ops.length).toBeGreaterThan(0);
    for (const op of ops) {
      const fixture = FIXTURES[op.operationId];
      expect(fixture, `no cross-tenant fixture for ${op.operationId}: add one`).toBeDefined();
      const res = await t.as(b.key).call(op.method.toUpperCase(), op.path.replace('{id}', fixture!.id()), {
        ...(fixture!.body ? { body: fixture!.body } : {}),
        headers: { accept: 'application/json' },
      });
      expect(res.status, `${op.operationId} with another tenant's id`).toBe(404);
    }
    // Nothing was changed in tenant A by those calls.
    const key = await t.as(a.key).call('GET', `/v1/api-keys/${ids.apiKey}`);
    expect(key.body.revoked_at).toBeNull();
    const members = await t.as(a.key).call('GET', '/v1/members');
    expect(members.body.data.find((m: { id: string }) => m.id === ids.member).role).toBe('member');
    expect((await t.as(a.key).call('GET', `/v1/agents/${ids.agent}`)).body.description).toBe('');
    expect((await t.as(a.key).call('GET', `/v1/runs/${ids.run}`)).body.status).not.toBe('cancelled');
    await t.as(a.key).call('POST', `/v1/runs/${ids.run}/cancel`);
  });

  it('lists show only the caller\'s tenant', async () => {
    const keys = await t.as(b.key).call('GET', '/v1/api-keys');
    expect(keys.body.data.map((k: { id: string }) => k.id)).not.toContain(ids.apiKey);
    const members = await t.as(b.key).call('GET', '/v1/members');
    expect(members.body.data.map((m: { email: string }) => m.email)).toEqual([b.email]);
    const tenant = await t.as(b.key).call('GET', '/v1/tenant');
    expect(tenant.body.id).toBe(b.tenantId);
    const exported = await t.as(b.key).call('GET', '/v1/tenant/export');
    expect(JSON.stringify(exported.body)).not.toContain(a.tenantId);
  });

  it('keeps instance administration to the instance admin', async () => {
    expect((await t.as(a.key).call('GET', '/v1/admin/tenants')).status).toBe(403);
    expect((await t.as(a.key).call('PATCH', `/v1/admin/tenants/${b.tenantId}`, { body: { plan: 'business' } })).status).toBe(403);
    const list = await t.as(admin.key).call('GET', '/v1/admin/tenants');
    expect(list.body.data.map((x: { id: string }) => x.id)).toEqual(expect.arrayContaining([a.tenantId, b.tenantId, admin.tenantId]));
    const patched = await t.as(admin.key).call('PATCH', `/v1/admin/tenants/${b.tenantId}`, { body: { suspended: true } });
    expect(patched.status).toBe(200);
    expect(patched.body.status).toBe('suspended');
    const refused = await t.as(b.key).call('GET', '/v1/me');
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('tenant_suspended');
    await t.as(admin.key).call('PATCH', `/v1/admin/tenants/${b.tenantId}`, { body: { suspended: false } });
    expect((await t.as(b.key).call('GET', '/v1/me')).status).toBe(200);
    expect((await t.as(admin.key).call('PATCH', '/v1/admin/tenants/ten_00000000000000000000000000', { body: { plan: 'pro' } })).status).toBe(404);
  });
});
