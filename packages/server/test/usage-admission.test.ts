// Admission decides in SQL (services/usage.ts admit, gcorp_refuse_run): the refusals not covered by usage.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap, createTenant, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

let t: TestHub;
let admin: Tenant;

beforeAll(async () => {
  t = await startTestHub({ workerConcurrency: 4 });
  admin = await bootstrap(t);
});
afterAll(async () => t?.close());

describe('admission', () => {
  it('refuses a run once the tenant has used the tokens of its period, and keeps nothing of it', async () => {
    const tenant = await createTenant(t, admin, 'Tokens', 'pro');
    await t.as(admin.key).call('PATCH', `/v1/admin/tenants/${tenant.tenantId}`, { body: { limits: { tokens_per_period: 10 } } });
    const first = await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { usage: { input_tokens: 6, output_tokens: 6 } } } });
    expect(first.status).toBe(201);
    const done = await t.as(tenant.key).call('GET', `/v1/runs/${first.body.id}/wait?timeout=20`);
    expect(done.status).toBe(200);
    expect(done.body.status).toBe('succeeded');
    const over = await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: 1 } });
    expect(over.status).toBe(402);
    expect(over.body.code).toBe('quota_exceeded');
    expect(over.body.detail).toBe('This tenant has used 12 of the 10 tokens of its plan for this period. (quota tokens_per_period)');
    const list = await t.as(tenant.key).call('GET', '/v1/runs');
    expect(list.body.data.map((r: { id: string }) => r.id)).toEqual([first.body.id]);
    const summary = await t.as(tenant.key).call('GET', '/v1/usage/summary');
    expect(summary.body.quotas.find((q: { name: string }) => q.name === 'runs_per_period')).toMatchObject({ used: 1 });
  });

  it('an override of null leaves the plan limit in force, and a number replaces it', async () => {
    const tenant = await createTenant(t, admin, 'Overrides', 'pro');
    await t.as(admin.key).call('PATCH', `/v1/admin/tenants/${tenant.tenantId}`, { body: { limits: { runs_per_period: 2, tokens_per_period: null } } });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: i } }));
    expect(results.map((r) => r.status)).toEqual([201, 201, 402]);
    expect(results[2]!.body.detail).toContain('all 2 runs of its pro plan');
  });
});
