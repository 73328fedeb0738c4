// Every resource method against the msw handlers built from openapi.yaml: the right operation is called with the
// right method, path, query, body and headers, and what comes back (valid against the spec) is decoded and typed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { APIResponse, Page } from '../src/index.js';
import type { SpecResolver, SpecResolverInfo } from '@genericcorp/contract/msw';
import { contractClient, RUN_ID, startMockHub, type MockHub, type TestClient } from './helpers/contract.js';

let hub: MockHub;
let t: TestClient;
const requests: { method: string; url: string; headers: Headers; body: string }[] = [];

beforeAll(async () => {
  // Every override notes the request, then answers the spec's example as the default handler would.
  const note = async ({ request, exampleResponse }: SpecResolverInfo) => {
    requests.push({ method: request.method, url: request.url, headers: request.headers, body: await request.text() });
    return exampleResponse();
  };
  const ids = [
    'bootstrap', 'login', 'refreshToken', 'logout', 'createDeviceCode', 'exchangeToken', 'getMe', 'getTenant', 'updateTenant',
    'exportTenant', 'deleteTenant', 'listMembers', 'createMember', 'updateMember', 'deleteMember', 'adminCreateTenant',
    'adminListTenants', 'adminUpdateTenant', 'createApiKey', 'listApiKeys', 'getApiKey', 'revokeApiKey', 'rotateApiKey',
    'listAgents', 'createAgent', 'getAgent', 'updateAgent', 'deleteAgent', 'createRun', 'listRuns', 'getRun', 'cancelRun',
    'listRunEvents', 'waitRun', 'getUsage', 'getUsageSummary', 'getHealthz', 'getReadyz', 'getMetrics', 'getOpenapi',
    'getAuthorizationServerMetadata',
  ];
  const overrides: Record<string, SpecResolver> = Object.fromEntries(ids.map((id) => [id, note]));
  // The example page of agents has a next cursor; the page after it is the last.
  overrides.listAgents = async (info) => {
    await note(info);
    if (!new URL(info.request.url).searchParams.has('cursor')) return info.exampleResponse();
    const example = info.exampleResponse();
    const body = (await example.json()) as { data: unknown[] };
    return Response.json({ data: body.data.slice(0, 1), next_cursor: null }, { headers: example.headers });
  };
  hub = await startMockHub(overrides);
  t = contractClient({ baseUrl: hub.url });
});
afterAll(async () => {
  await t.close();
  await hub.close();
});

afterEach(() => {
  t.recorder.assertContract();
  requests.length = 0;
});

function client() {
  return t.client;
}

function last() {
  const request = requests.at(-1);
  if (!request) throw new Error('no request reached the mock hub');
  const url = new URL(request.url);
  return { ...request, path: url.pathname, query: Object.fromEntries(url.searchParams), json: request.headers.get('content-type') === 'application/json' ? JSON.parse(request.body) : undefined };
}

describe('resources call their operation and decode its answer', () => {
  it('health: check, ready, metrics and openapi need no credential', async () => {
    const gc = client().withOptions({ apiKey: null });
    expect(await gc.health.check()).toEqual({ status: 'ok' });
    expect((await gc.health.ready()).checks.database).toBe('ok');
    expect(await gc.health.metrics()).toContain('# TYPE gcorp_http_requests_total counter');
    expect(await gc.health.openapi()).toContain('openapi: 3.1.0');
    expect(last().headers.get('authorization')).toBeNull();
  });

  it('health.ready answers a 503 readiness body instead of throwing', async () => {
    const down = await startMockHub({ getReadyz: ({ exampleResponse }) => exampleResponse({ status: 503 }) });
    try {
      const gc = t.client.withOptions({ baseUrl: down.url, apiKey: null });
      const { data, response } = await gc.health.ready().withResponse();
      expect(response.status).toBe(503);
      expect(data).toEqual({ status: 'unavailable', checks: { database: 'ok', queue: 'unavailable' } });
    } finally {
      await down.close();
    }
  });

  it('bootstrap.create posts the bootstrap request without a credential, with an Idempotency-Key', async () => {
    const result = await client().bootstrap.create({
      bootstrap_token: 'gcb_4kQ9zV2mX7pL1sR8tK3wZ6yN0bH5cJ2d',
      admin_email: 'ada@acme.example',
      admin_password: 'correct horse battery staple',
      tenant_name: 'Acme',
    });
    expect(result.api_key.key).toMatch(/^gc_live_key_/);
    const request = last();
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v1/bootstrap');
    expect(request.headers.get('authorization')).toBeNull();
    expect(request.headers.get('content-type')).toBe('application/json');
    expect(request.headers.get('idempotency-key')).toMatch(/^[0-9a-f-]{36}$/);
    expect(request.json).toMatchObject({ tenant_name: 'Acme' });
  });

  it('auth: login, refresh and logout are JSON; token and device code are forms', async () => {
    const gc = client();
    expect((await gc.auth.login({ email: 'ada@acme.example', password: 'pw' })).token_type).toBe('Bearer');
    expect(last().path).toBe('/v1/auth/login');
    expect((await gc.auth.refresh({ refresh_token: 'gcr_x' })).refresh_token).toMatch(/^gcr_/);
    await expect(gc.auth.logout()).resolves.toBeUndefined();
    expect(last()).toMatchObject({ method: 'POST', path: '/v1/auth/logout', body: '' });
    expect(last().headers.get('authorization')).toMatch(/^Bearer gc_live_/);

    await gc.auth.token({ grant_type: 'refresh_token', refresh_token: 'gcr_x', client_id: 'gcorp-cli' });
    const token = last();
    expect(token.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    // RFC 6749/8628 define these endpoints' retries: they take no Idempotency-Key.
    expect(token.headers.get('idempotency-key')).toBeNull();
    expect(Object.fromEntries(new URLSearchParams(token.body))).toEqual({ grant_type: 'refresh_token', refresh_token: 'gcr_x', client_id: 'gcorp-cli' });

    const device = await gc.auth.device.start({ scope: ['runs:read', 'runs:write'] });
    expect(Object.fromEntries(new URLSearchParams(last().body))).toEqual({ client_id: 'gcorp-cli', scope: 'runs:read runs:write' });
    expect(device).toMatchObject({ user_code: 'WDJB-MJHT', interval: 5, client_id: 'gcorp-cli' });
    expect(Date.parse(device.expires_at) - Date.now()).toBeGreaterThan(890_000);

    const metadata = await gc.auth.metadata();
    expect(metadata.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:device_code');
  });

  it('me, tenant and members', async () => {
    const gc = client();
    expect((await gc.me.get()).tenant.name).toBe('Acme');
    expect((await gc.tenant.get()).plan).toBe('business');
    expect((await gc.tenant.update({ name: 'Acme Corporation' })).name).toBe('Acme Corporation');
    expect(last()).toMatchObject({ method: 'PATCH', path: '/v1/tenant', json: { name: 'Acme Corporation' } });
    expect((await gc.tenant.export()).members).toHaveLength(1);
    expect((await gc.tenant.delete({ confirm: 'ten_01jdz9a1b2c3d4e5f6g7h8j9k0' })).erased_at).toBeTruthy();
    expect(last()).toMatchObject({ method: 'DELETE', path: '/v1/tenant', json: { confirm: 'ten_01jdz9a1b2c3d4e5f6g7h8j9k0' } });

    const members = await gc.members.list({ limit: 2 });
    expect(members).toBeInstanceOf(Page);
    expect(members.data.map((m) => m.role)).toEqual(['owner', 'member']);
    expect(last().query).toEqual({ limit: '2' });
    expect((await gc.members.create({ email: 'grace@acme.example', password: 'a long enough passphrase', role: 'member' })).id).toMatch(/^usr_/);
    expect((await gc.members.update('usr_01jdz5p3q5r7s9t1v3w5x7y9z1', { role: 'admin' })).role).toBe('admin');
    expect(last()).toMatchObject({ method: 'PATCH', path: '/v1/members/usr_01jdz5p3q5r7s9t1v3w5x7y9z1' });
    await expect(gc.members.delete('usr_01jdz5p3q5r7s9t1v3w5x7y9z1')).resolves.toBeUndefined();
    expect(last().method).toBe('DELETE');
  });

  it('admin tenants', async () => {
    const gc = client();
    const created = await gc.admin.tenants.create({ name: 'Globex', plan: 'pro', owner_email: 'hank@globex.example', owner_password: 'another long passphrase' });
    expect(created.tenant.plan).toBe('pro');
    const page = await gc.admin.tenants.list();
    expect(page.data[0]?.limits.concurrent_runs).toBeNull();
    expect(page.hasNextPage()).toBe(true);
    const updated = await gc.admin.tenants.update('ten_01jdz9a1b2c3d4e5f6g7h8j9k0', { limits: { concurrent_runs: 50 } });
    expect(updated.limits.concurrent_runs).toBe(50);
    expect(last()).toMatchObject({ method: 'PATCH', path: '/v1/admin/tenants/ten_01jdz9a1b2c3d4e5f6g7h8j9k0', json: { limits: { concurrent_runs: 50 } } });
  });

  it('api keys', async () => {
    const gc = client();
    const created = await gc.apiKeys.create({ name: 'ci', scopes: ['runs:read', 'runs:write'] });
    expect(created.key).toMatch(/^gc_live_key_/);
    expect((await gc.apiKeys.list()).data).toHaveLength(2);
    expect((await gc.apiKeys.get('key_01jdz4c6d8e0f2g4h6j8k0m2n4')).name).toBe('ci');
    expect((await gc.apiKeys.revoke('key_01jdz4c6d8e0f2g4h6j8k0m2n4')).revoked_at).toBeTruthy();
    expect(last()).toMatchObject({ method: 'DELETE', path: '/v1/api-keys/key_01jdz4c6d8e0f2g4h6j8k0m2n4' });
    expect((await gc.apiKeys.rotate('key_01jdz4c6d8e0f2g4h6j8k0m2n4')).key).toBeTruthy();
    expect(last()).toMatchObject({ method: 'POST', path: '/v1/api-keys/key_01jdz4c6d8e0f2g4h6j8k0m2n4/rotate', body: '' });
    expect(last().headers.get('idempotency-key')).toBeTruthy();
  });

  it('agents: list walks every page with the cursor, get accepts a name, create/update/delete', async () => {
    const gc = client();
    const names: string[] = [];
    for await (const agent of gc.agents.list({ limit: 2 })) names.push(agent.name);
    expect(names).toEqual(['code-reviewer', 'echo', 'code-reviewer']);
    expect(last().query).toEqual({ limit: '2', cursor: 'ZWNobw' });

    const pages: number[] = [];
    for await (const page of gc.agents.list().iterPages()) pages.push(page.data.length);
    expect(pages).toEqual([2, 1]);

    const echo = await gc.agents.get('echo');
    expect(echo.input_schema).toBeNull();
    expect(last().path).toBe('/v1/agents/echo');
    const created = await gc.agents.create({
      name: 'changelog-bot',
      runtime: 'model',
      input_schema: { type: 'object', required: ['pull_requests'] },
      config: { model: 'claude-sonnet-4-5', system_prompt: 'Be brief.', max_tokens: 1024 },
    });
    expect(created.kind).toBe('custom');
    expect(last().json.input_schema).toEqual({ type: 'object', required: ['pull_requests'] });
    expect((await gc.agents.update('changelog-bot', { description: 'Grouped by area.' })).config).toMatchObject({ max_tokens: 2048 });
    await expect(gc.agents.delete('changelog-bot')).resolves.toBeUndefined();
    expect(last()).toMatchObject({ method: 'DELETE', path: '/v1/agents/changelog-bot' });
  });

  it('runs: create, list with filters, get, cancel, events pages', async () => {
    const gc = client();
    const run = await gc.runs.create({ agent: 'echo', input: { message: 'hi' }, metadata: { source: 'ci' } }, { idempotencyKey: 'build-42' });
    expect(run).toMatchObject({ id: RUN_ID, status: 'queued' });
    expect(last().headers.get('idempotency-key')).toBe('build-42');
    expect(last().json).toEqual({ agent: 'echo', input: { message: 'hi' }, metadata: { source: 'ci' } });

    const failed = await gc.runs.list({ status: 'failed', agent: 'code-reviewer', created_after: '2025-11-23T00:00:00Z', limit: 10 });
    expect(failed.data[0]?.error?.code).toBe('provider_not_configured');
    expect(last().query).toEqual({ status: 'failed', agent: 'code-reviewer', created_after: '2025-11-23T00:00:00Z', limit: '10' });

    expect((await gc.runs.get(RUN_ID)).id).toBe(RUN_ID);
    expect(last().path).toBe(`/v1/runs/${RUN_ID}`);
    const cancelled = await gc.runs.cancel(RUN_ID).withResponse();
    expect(cancelled.response.status).toBe(200);
    expect(cancelled.data.status).toBe('cancelled');

    const events = await gc.runs.events(RUN_ID, { after: 2 });
    expect(events.data.map((e) => e.type)).toEqual(['run.output.delta', 'run.completed']);
    expect(last().headers.get('accept')).toBe('application/json');
    expect(last().query).toEqual({ after: '2' });
    const completed = events.data[1];
    if (completed?.type === 'run.completed') expect(completed.data.status).toBe('succeeded');
    else throw new Error('expected run.completed');
  });

  it('usage: buckets with Date ranges, and the summary', async () => {
    const gc = client();
    const usage = await gc.usage.get({ from: new Date('2025-11-22T00:00:00Z'), to: '2025-11-24T00:00:00Z', granularity: 'day', group_by: 'agent' });
    expect(usage.data).toHaveLength(2);
    expect(last().query).toEqual({ from: '2025-11-22T00:00:00.000Z', to: '2025-11-24T00:00:00Z', granularity: 'day', group_by: 'agent' });
    const summary = await gc.usage.summary();
    expect(summary.quotas.find((q) => q.name === 'runs_per_period')?.remaining).toBe(8766);
  });
});

describe('responses', () => {
  it('withResponse() gives status, headers and the request id', async () => {
    const { data, response } = await client().me.get().withResponse();
    expect(data.kind).toBe('user');
    expect(response).toBeInstanceOf(APIResponse);
    expect(response.status).toBe(200);
    expect(response.requestId).toBe('req_01jdz7r8s9t0v1w2x3y4z5a6b8');
    expect(response.headers.get('x-request-id')).toBe(response.requestId);
    expect(response.headerRecord['content-type']).toMatch(/^application\/json/);
    expect(response.attempts).toBe(1);
    expect(response.url).toBe(`${hub.url}/v1/me`);
  });

  it('request() reaches any operation by its path template, typed from the spec', async () => {
    const gc = client();
    const run = await gc.request('get', '/v1/runs/{id}', { params: { id: RUN_ID } });
    expect(run.id).toBe(RUN_ID);
    expect(last().path).toBe(`/v1/runs/${RUN_ID}`);
    const created = await gc.request('POST', '/v1/runs', { body: { agent: 'echo', input: 1 } });
    expect(created.status).toBe('queued');
    expect(last().headers.get('idempotency-key')).toBeTruthy();
    const tokens = await gc.request('post', '/v1/auth/token', {
      form: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'd', client_id: 'gcorp-cli' },
    });
    expect(tokens.token_type).toBe('Bearer');
    const metrics = await gc.request<string>('GET', '/metrics');
    expect(metrics).toContain('gcorp_queue_depth');
    const raw = await gc.request<{ status: string }>('GET', `/v1/runs/${RUN_ID}`, { query: { unused: undefined } });
    expect(raw.status).toBeTruthy();
  });

  it('a page promise iterates with for await, awaited it is the first page', async () => {
    const gc = client();
    const first = await gc.members.list();
    expect(first.hasNextPage()).toBe(false);
    expect(() => first.getNextPage()).toThrow(/last page/);
    const emails = [];
    for await (const member of gc.members.list()) emails.push(member.email);
    expect(emails).toEqual(['ada@acme.example', 'grace@acme.example']);
  });
});
