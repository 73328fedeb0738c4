// A tenant's own model-provider settings (GET /v1/tenant/providers, PUT and DELETE /v1/tenant/providers/{provider}):
// CRUD, the API key never returned, logged or exported and stored encrypted, row-level isolation between tenants, bad
// input, and model runs that use the tenant's settings on a hub whose instance has no provider at all (loopback
// servers speaking the Anthropic and OpenAI streaming formats see the tenant's keys).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractFetch } from '@genericcorp/contract';
import { REDACT } from '../src/app.js';
import { openDatabase, type Database } from '../src/db/database.js';
import { RowSecurityViolationError } from '../src/db/errors.js';
import { decryptSecret, encryptSecret, loadInstanceKeys } from '../src/services/secrets.js';
import { ownerQuery } from './helpers/db.js';
import { serve, sse, type LocalServer, type Recorded } from './helpers/loopback.js';
import { bootstrap, createTenant, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';
import { waitForRun, type RunBody } from './helpers/processes.js';

const SECRET_KEY = 'test-secret-key-0123456789abcdefghijklmnop'; // startTestHub's GCORP_SECRET_KEY
const TENANT_ANTHROPIC_KEY = 'sk-ant-tenant-only-Zq8mW3vR7tK2pX9c';
const TENANT_OPENAI_KEY = 'sk-oai-tenant-only-Hn4bV6yJ1sD5fG0e';
const OTHER_TENANT_KEY = 'sk-ant-other-tenant-Lp2kQ9wE4rT7yU3i';

// ---- loopback providers ----


const ANTHROPIC_PIECES = ['Answered ', 'with the ', "tenant's key"];
const OPENAI_PIECES = ['Self-hosted', ' model', ' answer'];

/** Anthropic Messages API streaming (POST /v1/messages): message_start ... message_stop. */
function anthropicHandler(req: IncomingMessage, res: ServerResponse, rec: Recorded): void {
  if (req.method !== 'POST' || req.url !== '/v1/messages') {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: rec.url } }));
    return;
  }
  const body = JSON.parse(rec.body) as { model: string };
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': 'req_loopback' });
  sse(res, 'message_start', {
    type: 'message_start',
    message: { id: 'msg_loopback', type: 'message', role: 'assistant', content: [], model: body.model, stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } },
  });
  sse(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  for (const text of ANTHROPIC_PIECES) sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
  sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
  sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 6 } });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

/** OpenAI chat completions streaming (POST <base>/chat/completions): chunks, a usage chunk, [DONE]. */
function openaiHandler(req: IncomingMessage, res: ServerResponse, rec: Recorded): void {
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${rec.url}` } }));
    return;
  }
  const body = JSON.parse(rec.body) as { model: string };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    id: 'chatcmpl-loopback',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: body.model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  sse(res, null, chunk({ role: 'assistant', content: '' }));
  for (const content of OPENAI_PIECES) sse(res, null, chunk({ content }));
  sse(res, null, chunk({}, 'stop'));
  sse(res, null, { id: 'chatcmpl-loopback', object: 'chat.completion.chunk', created: 1_700_000_000, model: body.model, choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } });
  sse(res, null, '[DONE]');
  res.end();
}

/** The API key a request to the Anthropic loopback carried (the SDK sends x-api-key). */
function anthropicKeyOf(req: Recorded): string | undefined {
  const v = req.headers['x-api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '');
  return Array.isArray(v) ? v[0] : v;
}

async function startRun(api: ContractFetch, agent: string, input: unknown): Promise<RunBody> {
  const res = await api.call<RunBody>('POST', '/v1/runs', { body: { agent, input } });
  if (res.status !== 201) throw new Error(`POST /v1/runs answered ${res.status}: ${res.text}`);
  return res.body;
}

async function createModelAgent(api: ContractFetch, name: string, provider: 'anthropic' | 'openai_compatible' | null): Promise<void> {
  const res = await api.call('POST', '/v1/agents', {
    body: { name, runtime: 'model', config: { provider, model: 'default', system_prompt: 'Be brief.', max_tokens: 64 } },
  });
  if (res.status !== 201) throw new Error(`createAgent ${name} answered ${res.status}: ${res.text}`);
}

// ---- hub A: no provider on the instance, private targets allowed (the loopback providers) ----

describe('tenant providers: instance without providers, private targets allowed', () => {
  let t: TestHub;
  let admin: Tenant;
  let other: Tenant;
  let api: ContractFetch;
  let anthropic: LocalServer;
  let openai: LocalServer;
  const logLines: string[] = [];

  beforeAll(async () => {
    anthropic = await serve(anthropicHandler);
    openai = await serve(openaiHandler);
    const stream = new Writable({
      write(chunk, _enc, done) {
        logLines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    t = await startTestHub({
      providers: {},
      allowPrivateWebhooks: true,
      logger: { level: 'trace', stream, redact: { paths: REDACT, censor: '[redacted]' } },
    });
    admin = await bootstrap(t);
    other = await createTenant(t, admin, 'Other');
    api = t.as(admin.key);
    await createModelAgent(api, 'claude-bot', 'anthropic');
    await createModelAgent(api, 'default-bot', null);
    await createModelAgent(api, 'local-bot', 'openai_compatible');
    await createModelAgent(t.as(other.key), 'claude-bot', 'anthropic');
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([anthropic, openai].map((s) => s?.close()));
  });

  it('sets, reads, replaces and removes provider settings without ever returning the key', async () => {
    const empty = await api.call('GET', '/v1/tenant/providers');
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ data: [], next_cursor: null });

    const set = await api.call('PUT', '/v1/tenant/providers/anthropic', {
      body: { api_key: TENANT_ANTHROPIC_KEY, base_url: anthropic.url, default_model: 'claude-tenant-model' },
    });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      provider: 'anthropic',
      base_url: anthropic.url,
      default_model: 'claude-tenant-model',
      api_key_set: true,
      api_key_last4: TENANT_ANTHROPIC_KEY.slice(-4),
    });
    expect(set.text).not.toContain(TENANT_ANTHROPIC_KEY);
    expect(set.body).not.toHaveProperty('api_key');

    // Without api_key the stored key is kept; base_url and default_model are replaced.
    const replaced = await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { base_url: anthropic.url, default_model: 'claude-other' } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ api_key_set: true, api_key_last4: TENANT_ANTHROPIC_KEY.slice(-4), default_model: 'claude-other' });
    expect(Date.parse(replaced.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(set.body.updated_at));
    expect(replaced.body.created_at).toBe(set.body.created_at);

    // An OpenAI-compatible endpoint without a key; a short key shows no last four characters.
    const local = await api.call('PUT', '/v1/tenant/providers/openai_compatible', { body: { base_url: `${openai.url}/v1`, default_model: 'llama-local' } });
    expect(local.status).toBe(200);
    expect(local.body).toMatchObject({ provider: 'openai_compatible', api_key_set: false, api_key_last4: null });
    const short = await api.call('PUT', '/v1/tenant/providers/openai_compatible', {
      body: { api_key: 'short-key-1', base_url: `${openai.url}/v1`, default_model: 'llama-local' },
    });
    expect(short.body).toMatchObject({ api_key_set: true, api_key_last4: null });
    const cleared = await api.call('PUT', '/v1/tenant/providers/openai_compatible', {
      body: { api_key: null, base_url: `${openai.url}/v1`, default_model: 'llama-local' },
    });
    expect(cleared.body).toMatchObject({ api_key_set: false, api_key_last4: null });

    const list = await api.call('GET', '/v1/tenant/providers');
    expect(list.status).toBe(200);
    expect(list.body.data.map((p: { provider: string }) => p.provider)).toEqual(['anthropic', 'openai_compatible']);
    expect(list.text).not.toContain(TENANT_ANTHROPIC_KEY);

    // Pages follow the list conventions.
    const first = await api.call('GET', '/v1/tenant/providers?limit=1');
    expect(first.body.data.map((p: { provider: string }) => p.provider)).toEqual(['anthropic']);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await api.call('GET', `/v1/tenant/providers?limit=1&cursor=${encodeURIComponent(first.body.next_cursor)}`);
    expect(second.body).toMatchObject({ data: [{ provider: 'openai_compatible' }], next_cursor: null });
    const badCursor = await api.call('GET', '/v1/tenant/providers?cursor=bm9wZQ');
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.code).toBe('invalid_cursor');

    const removed = await api.call('DELETE', '/v1/tenant/providers/openai_compatible');
    expect(removed.status).toBe(204);
    const again = await api.call('DELETE', '/v1/tenant/providers/openai_compatible');
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('not_found');
    const after = await api.call('GET', '/v1/tenant/providers');
    expect(after.body.data.map((p: { provider: string }) => p.provider)).toEqual(['anthropic']);
  });

  it('stores the key encrypted with the instance key, never in clear', async () => {
    await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: TENANT_ANTHROPIC_KEY, base_url: anthropic.url } });
    const { rows } = await ownerQuery<Record<string, unknown>>(t.ownerUrl, 'select * from tenant_providers where tenant_id = $1 and provider = $2', [
      admin.tenantId,
      'anthropic',
    ]);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(JSON.stringify(row)).not.toContain(TENANT_ANTHROPIC_KEY);
    expect(row.api_key_enc).toMatch(/^v1\./);
    const keys = await loadInstanceKeys(SECRET_KEY, t.dataDir);
    expect(decryptSecret(keys.data, row.api_key_enc as string)).toBe(TENANT_ANTHROPIC_KEY);
    // Each write seals the key afresh (random IV): the same key never gives the same ciphertext.
    await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: TENANT_ANTHROPIC_KEY, base_url: anthropic.url } });
    const again = await ownerQuery<{ api_key_enc: string }>(t.ownerUrl, 'select api_key_enc from tenant_providers where tenant_id = $1 and provider = $2', [
      admin.tenantId,
      'anthropic',
    ]);
    expect(again.rows[0]!.api_key_enc).not.toBe(row.api_key_enc);
  });

  it('runs a model agent on the tenant\'s Anthropic key although the instance has no provider', { timeout: 30_000 }, async () => {
    await api.call('PUT', '/v1/tenant/providers/anthropic', {
      body: { api_key: TENANT_ANTHROPIC_KEY, base_url: anthropic.url, default_model: 'claude-tenant-model' },
    });
    const before = anthropic.requests.length;
    const done = await waitForRun(api, (await startRun(api, 'claude-bot', { ticket: 'T-1' })).id);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(done.output).toEqual({ text: ANTHROPIC_PIECES.join('') });
    expect(done.usage).toMatchObject({ input_tokens: 12, output_tokens: 6 });
    expect(anthropic.requests.length).toBe(before + 1);
    const req = anthropic.requests.at(-1)!;
    expect(anthropicKeyOf(req)).toBe(TENANT_ANTHROPIC_KEY);
    expect((JSON.parse(req.body) as { model: string }).model).toBe('claude-tenant-model');

    // An agent without a provider picks the tenant's Anthropic settings as the default.
    const byDefault = await waitForRun(api, (await startRun(api, 'default-bot', 'hello')).id);
    expect(byDefault.status, JSON.stringify(byDefault.error)).toBe('succeeded');
    expect(anthropicKeyOf(anthropic.requests.at(-1)!)).toBe(TENANT_ANTHROPIC_KEY);
  });

  it("runs on the tenant's OpenAI-compatible endpoint with its key", { timeout: 30_000 }, async () => {
    const set = await api.call('PUT', '/v1/tenant/providers/openai_compatible', {
      body: { api_key: TENANT_OPENAI_KEY, base_url: `${openai.url}/v1`, default_model: 'llama-tenant' },
    });
    expect(set.status).toBe(200);
    const done = await waitForRun(api, (await startRun(api, 'local-bot', 'summarise')).id);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(done.output).toEqual({ text: OPENAI_PIECES.join('') });
    const req = openai.requests.at(-1)!;
    expect(req.headers.authorization).toBe(`Bearer ${TENANT_OPENAI_KEY}`);
    expect((JSON.parse(req.body) as { model: string }).model).toBe('llama-tenant');
    expect((await api.call('DELETE', '/v1/tenant/providers/openai_compatible')).status).toBe(204);
  });

  it('applies per tenant: another tenant without settings gets provider_not_configured, and a removal takes effect at once', { timeout: 30_000 }, async () => {
    const otherApi = t.as(other.key);
    const before = anthropic.requests.length;
    const refused = await waitForRun(otherApi, (await startRun(otherApi, 'claude-bot', 'x')).id);
    expect(refused.status).toBe('failed');
    expect(refused.error).toMatchObject({ code: 'provider_not_configured', status: 503 });
    expect(refused.error!.detail).toContain('PUT /v1/tenant/providers/anthropic');
    expect(anthropic.requests.length).toBe(before);

    // The admin's tenant loses its settings: its next run has no provider either (no stale cache).
    await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: TENANT_ANTHROPIC_KEY, base_url: anthropic.url } });
    expect((await api.call('DELETE', '/v1/tenant/providers/anthropic')).status).toBe(204);
    const gone = await waitForRun(api, (await startRun(api, 'claude-bot', 'x')).id);
    expect(gone.error).toMatchObject({ code: 'provider_not_configured' });
    expect(anthropic.requests.length).toBe(before);
  });

  it("keeps tenants apart: another tenant neither sees nor changes this tenant's settings", async () => {
    await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: TENANT_ANTHROPIC_KEY, base_url: anthropic.url } });
    const otherApi = t.as(other.key);
    expect((await otherApi.call('GET', '/v1/tenant/providers')).body).toEqual({ data: [], next_cursor: null });
    const del = await otherApi.call('DELETE', '/v1/tenant/providers/anthropic');
    expect(del.status).toBe(404);
    const own = await otherApi.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: OTHER_TENANT_KEY, base_url: anthropic.url } });
    expect(own.body.api_key_last4).toBe(OTHER_TENANT_KEY.slice(-4));
    const mine = await api.call('GET', '/v1/tenant/providers');
    expect(mine.body.data).toEqual([expect.objectContaining({ provider: 'anthropic', api_key_last4: TENANT_ANTHROPIC_KEY.slice(-4) })]);

    // Each tenant's run uses its own key.
    const done = await waitForRun(otherApi, (await startRun(otherApi, 'claude-bot', 'x')).id);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(anthropicKeyOf(anthropic.requests.at(-1)!)).toBe(OTHER_TENANT_KEY);
    const mineRun = await waitForRun(api, (await startRun(api, 'claude-bot', 'x')).id);
    expect(mineRun.status, JSON.stringify(mineRun.error)).toBe('succeeded');
    expect(anthropicKeyOf(anthropic.requests.at(-1)!)).toBe(TENANT_ANTHROPIC_KEY);

    // Underneath, row-level security: the app role in one tenant's transaction sees and touches only its rows.
    const db: Database = openDatabase({ ownerUrl: t.ownerUrl, appUrl: t.appUrl });
    try {
      const seen = await db.tenant(other.tenantId, async (q) => (await q.query('select tenant_id from tenant_providers')).rows);
      expect(seen).toEqual([{ tenant_id: other.tenantId }]);
      expect((await db.query('select * from tenant_providers')).rowCount).toBe(0);
      const touched = await db.tenant(other.tenantId, async (q) => ({
        updated: (await q.query('update tenant_providers set default_model = $2 where tenant_id = $1', [admin.tenantId, 'hijacked'])).rowCount,
        deleted: (await q.query('delete from tenant_providers where tenant_id = $1', [admin.tenantId])).rowCount,
      }));
      expect(touched).toEqual({ updated: 0, deleted: 0 });
      await expect(
        db.tenant(other.tenantId, (q) =>
          q.query(`insert into tenant_providers (tenant_id, provider, base_url, default_model) values ($1, 'openai_compatible', 'https://x.example', 'm')`, [
            admin.tenantId,
          ]),
        ),
      ).rejects.toBeInstanceOf(RowSecurityViolationError);
    } finally {
      await db.close();
    }
    expect((await api.call('GET', '/v1/tenant/providers')).body.data).toHaveLength(1);
  });

  it('answers bad input with problems', async () => {
    const expectProblem = async (res: { status: number; body: { code: string; errors?: { field: string }[] } }, status: number, code: string, field?: string) => {
      expect(res.status).toBe(status);
      expect(res.body.code).toBe(code);
      if (field) expect(res.body.errors?.map((e) => e.field)).toContain(field);
    };
    await expectProblem(await api.call('PUT', '/v1/tenant/providers/gemini', { body: { api_key: TENANT_ANTHROPIC_KEY } }), 400, 'validation_failed', '/path/provider');
    await expectProblem(await api.call('DELETE', '/v1/tenant/providers/gemini'), 400, 'validation_failed', '/path/provider');
    await expectProblem(await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: TENANT_ANTHROPIC_KEY, base_url: 'not a url' } }), 400, 'validation_failed', '/body/base_url');
    await expectProblem(await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: TENANT_ANTHROPIC_KEY, base_url: 'ftp://files.example.com/' } }), 400, 'validation_failed', '/body/base_url');
    await expectProblem(
      await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: TENANT_ANTHROPIC_KEY, base_url: 'https://user:pw@llm.example.com/' } }),
      400,
      'invalid_base_url',
      '/body/base_url',
    );
    await expectProblem(await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: TENANT_ANTHROPIC_KEY, model: 'x' } }), 400, 'validation_failed');
    await expectProblem(await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: 'has a space in it' } }), 400, 'validation_failed', '/body/api_key');
    await expectProblem(await api.call('PUT', '/v1/tenant/providers/openai_compatible', { body: { api_key: TENANT_OPENAI_KEY } }), 400, 'validation_failed', '/body/base_url');
    await expectProblem(await api.call('PUT', '/v1/tenant/providers/anthropic', { body: 'nope', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    // Anthropic needs a key: none stored (this tenant removed its settings) and none sent, or null.
    await api.call('DELETE', '/v1/tenant/providers/anthropic');
    await expectProblem(await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { default_model: 'claude-x' } }), 400, 'api_key_required', '/body/api_key');
    await expectProblem(await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: null } }), 400, 'api_key_required', '/body/api_key');
    expect((await api.call('GET', '/v1/tenant/providers')).body.data).toEqual([]);

    // tenant:admin is needed to read or change them.
    const narrow = await api.call('POST', '/v1/api-keys', { body: { name: 'runner', scopes: ['runs:read', 'runs:write'] } });
    const runner = t.as(narrow.body.key);
    await expectProblem(await runner.call('GET', '/v1/tenant/providers'), 403, 'insufficient_scope');
    await expectProblem(await runner.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: TENANT_ANTHROPIC_KEY } }), 403, 'insufficient_scope');
    await expectProblem(await runner.call('DELETE', '/v1/tenant/providers/anthropic'), 403, 'insufficient_scope');
    expect((await t.api.call('GET', '/v1/tenant/providers')).status).toBe(401);
  });

  it('exports the settings without the key, and erasing the tenant removes them', async () => {
    const otherApi = t.as(other.key);
    const exported = await otherApi.call('GET', '/v1/tenant/export');
    expect(exported.status).toBe(200);
    expect(exported.body.providers).toEqual([expect.objectContaining({ provider: 'anthropic', api_key_set: true, api_key_last4: OTHER_TENANT_KEY.slice(-4) })]);
    expect(exported.text).not.toContain(OTHER_TENANT_KEY);
    expect(exported.text).not.toMatch(/api_key_enc|"v1\./);

    const erased = await otherApi.call('DELETE', '/v1/tenant', { body: { confirm: other.tenantId } });
    expect(erased.status).toBe(202);
    const left = await ownerQuery<{ n: number }>(t.ownerUrl, 'select count(*)::int as n from tenant_providers where tenant_id = $1', [other.tenantId]);
    expect(left.rows[0]!.n).toBe(0);
  });

  it('never writes a key to the logs', () => {
    expect(logLines.length).toBeGreaterThan(10);
    const all = logLines.join('\n');
    for (const key of [TENANT_ANTHROPIC_KEY, TENANT_OPENAI_KEY, OTHER_TENANT_KEY, 'short-key-1']) expect(all).not.toContain(key);
    expect(all).toContain('tenant provider settings set');
  });
});

// ---- hub B: no provider, private targets refused (the defaults) ----

describe('tenant providers: private and loopback base URLs refused', () => {
  let t: TestHub;
  let admin: Tenant;
  let api: ContractFetch;
  let anthropic: LocalServer;

  beforeAll(async () => {
    anthropic = await serve(anthropicHandler);
    t = await startTestHub({ providers: {}, allowPrivateWebhooks: false });
    admin = await bootstrap(t);
    api = t.as(admin.key);
    await createModelAgent(api, 'claude-bot', 'anthropic');
  });
  afterAll(async () => {
    await t?.close();
    await anthropic?.close();
  });

  it.each([
    ['a loopback address', () => anthropic.url.replace('http:', 'https:')],
    ['a name that resolves to loopback', () => 'https://localhost:8443/'],
    ['an IPv6 loopback address', () => 'https://[::1]:8443/'],
    ['a private address', () => 'https://10.1.2.3/v1'],
    ['a link-local address (cloud metadata)', () => 'https://169.254.169.254/'],
  ])('refuses a base URL on %s (400 provider_target_forbidden)', async (_what, url) => {
    const res = await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: TENANT_ANTHROPIC_KEY, base_url: url() } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'provider_target_forbidden', errors: [{ field: '/body/base_url' }] });
    expect((await api.call('GET', '/v1/tenant/providers')).body.data).toEqual([]);
  });

  it('refuses plain http where private targets are not allowed, and accepts a public https URL', async () => {
    const http = await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: TENANT_ANTHROPIC_KEY, base_url: 'http://203.0.113.7/' } });
    expect(http.status).toBe(400);
    expect(http.body.code).toBe('invalid_base_url');
    const ok = await api.call('PUT', '/v1/tenant/providers/anthropic', { body: { api_key: TENANT_ANTHROPIC_KEY, base_url: 'https://203.0.113.7/' } });
    expect(ok.status).toBe(200);
    expect((await api.call('DELETE', '/v1/tenant/providers/anthropic')).status).toBe(204);
  });

  it('checks the address again at run time: a stored loopback base URL fails the run and is never called', { timeout: 30_000 }, async () => {
    // Stored behind the API's back (as if the name had resolved elsewhere when it was set).
    const keys = await loadInstanceKeys(SECRET_KEY, t.dataDir);
    await ownerQuery(
      t.ownerUrl,
      `insert into tenant_providers (tenant_id, provider, api_key_enc, api_key_last4, base_url) values ($1, 'anthropic', $2, $3, $4)`,
      [admin.tenantId, encryptSecret(keys.data, TENANT_ANTHROPIC_KEY), TENANT_ANTHROPIC_KEY.slice(-4), anthropic.url],
    );
    const done = await waitForRun(api, (await startRun(api, 'claude-bot', 'x')).id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'provider_target_forbidden', status: 403, title: 'Model provider target forbidden' });
    expect(anthropic.requests).toHaveLength(0);
  });
});
