// gc.tenant.providers against the msw handlers built from openapi.yaml, served on loopback: each method calls its
// operation (method, path, body, headers), decodes the spec's answer, and maps problems to the typed errors.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SpecResolver, SpecResolverInfo } from '@genericcorp/contract/msw';
import { NotFoundError, Page, ValidationError, type TenantProvider } from '../src/index.js';
import { contractClient, startMockHub, type MockHub, type TestClient } from './helpers/contract.js';

let hub: MockHub;
let t: TestClient;
const requests: { method: string; url: string; headers: Headers; body: string }[] = [];
/** What the next call of an operation answers instead of its example (a problem status), once. */
const failNext: Record<string, number> = {};

beforeAll(async () => {
  const note = (operationId: string): SpecResolver => async ({ request, exampleResponse }: SpecResolverInfo) => {
    requests.push({ method: request.method, url: request.url, headers: request.headers, body: await request.text() });
    const status = failNext[operationId];
    if (status !== undefined) {
      delete failNext[operationId];
      return exampleResponse({ status, accept: 'application/problem+json' });
    }
    return exampleResponse();
  };
  const overrides: Record<string, SpecResolver> = {
    listTenantProviders: async (info) => {
      const answer = await note('listTenantProviders')(info);
      // The example holds both providers; asked for one per page, the mock answers them one at a time.
      const url = new URL(info.request.url);
      if (url.searchParams.get('limit') !== '1' || answer.status !== 200) return answer;
      const body = (await answer.json()) as { data: TenantProvider[] };
      const second = url.searchParams.get('cursor') === 'page-2';
      return Response.json(
        { data: body.data.slice(second ? 1 : 0, second ? 2 : 1), next_cursor: second ? null : 'page-2' },
        { headers: answer.headers },
      );
    },
    setTenantProvider: note('setTenantProvider'),
    deleteTenantProvider: note('deleteTenantProvider'),
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

function last() {
  const request = requests.at(-1);
  if (!request) throw new Error('no request reached the mock hub');
  const url = new URL(request.url);
  return {
    ...request,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    json: request.headers.get('content-type') === 'application/json' ? (JSON.parse(request.body) as unknown) : undefined,
  };
}

describe('tenant.providers', () => {
  it('list: a page of the tenant\'s providers, and every page with for await', async () => {
    const page = await t.client.tenant.providers.list();
    expect(page).toBeInstanceOf(Page);
    expect(page.data.map((p) => [p.provider, p.api_key_set, p.api_key_last4])).toEqual([
      ['anthropic', true, 'x9Qa'],
      ['openai_compatible', false, null],
    ]);
    expect(page.data[1]?.base_url).toBe('https://llm.acme.example/v1');
    expect(last()).toMatchObject({ method: 'GET', path: '/v1/tenant/providers', query: {} });
    expect(last().headers.get('authorization')).toMatch(/^Bearer gc_live_key_/);

    const names: string[] = [];
    for await (const provider of t.client.tenant.providers.list({ limit: 1 })) names.push(provider.provider);
    expect(names).toEqual(['anthropic', 'openai_compatible']);
    expect(requests.map((r) => new URL(r.url).search)).toEqual(['', '?limit=1', '?limit=1&cursor=page-2']);
  });

  it('set: PUT with the settings as JSON, the key sent but never in the answer', async () => {
    const set = await t.client.tenant.providers.set('anthropic', { api_key: 'sk-ant-api03-test-key-0123456789', default_model: 'claude-sonnet-4-5' });
    expect(set).toMatchObject({ provider: 'anthropic', api_key_set: true, api_key_last4: 'x9Qa', base_url: null });
    expect(set).not.toHaveProperty('api_key');
    expect(last()).toMatchObject({
      method: 'PUT',
      path: '/v1/tenant/providers/anthropic',
      json: { api_key: 'sk-ant-api03-test-key-0123456789', default_model: 'claude-sonnet-4-5' },
    });
    // PUT is idempotent by nature: no Idempotency-Key.
    expect(last().headers.get('idempotency-key')).toBeNull();

    await t.client.tenant.providers.set('openai_compatible', { base_url: 'https://llm.acme.example/v1', default_model: 'llama', api_key: null });
    expect(last()).toMatchObject({
      path: '/v1/tenant/providers/openai_compatible',
      json: { base_url: 'https://llm.acme.example/v1', default_model: 'llama', api_key: null },
    });
  });

  it('remove: DELETE, resolving to undefined on 204', async () => {
    await expect(t.client.tenant.providers.remove('openai_compatible')).resolves.toBeUndefined();
    expect(last()).toMatchObject({ method: 'DELETE', path: '/v1/tenant/providers/openai_compatible', body: '' });
  });

  it('problems become typed errors with the problem object', async () => {
    failNext.deleteTenantProvider = 404;
    const missing = await t.client.tenant.providers.remove('anthropic').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as NotFoundError).status).toBe(404);

    failNext.setTenantProvider = 400;
    const invalid = await t.client.tenant.providers.set('anthropic', { base_url: 'https://llm.acme.example' }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ValidationError);
    expect((invalid as ValidationError).errors.length).toBeGreaterThan(0);
  });
});
