// The full lifecycle of each runtime through the hub's HTTP API: echo; model agents on Anthropic and on an
// OpenAI-compatible endpoint (loopback servers speaking each provider's streaming format); webhook agents against a
// real local HTTP server (signed deliveries, hangs, garbage, redirects to private addresses); providers that are not
// configured; cancellation while running, timeouts, and cancelling a finished run.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractFetch } from '@genericcorp/contract';
import { checkAddress, verifyWebhookSignature } from '../src/runtimes/index.js';
import { serve, sse, type LocalServer, type Recorded } from './helpers/loopback.js';
import { bootstrap, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';
import { clientFor, pollRun, replayEvents, sleep, waitForEvent, waitForRun, type RunBody, type RunEvent } from './helpers/processes.js';

// ---- loopback servers ----


const ANTHROPIC_PIECES = ['Hello', ', ', 'Anthropic', ' world', '!'];
const OPENAI_PIECES = ['Chat', ' completions', ' stream', 'ed.'];

/** Anthropic Messages API streaming (POST /v1/messages): message_start ... message_stop. Model `stall` stalls. */
function anthropicHandler(req: IncomingMessage, res: ServerResponse, rec: Recorded): void {
  if (req.method !== 'POST' || req.url !== '/v1/messages') {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: rec.url } }));
    return;
  }
  const body = JSON.parse(rec.body) as { model: string };
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': 'req_loopback' });
  sse(res, 'message_start', {
    type: 'message_start',
    message: { id: 'msg_loopback', type: 'message', role: 'assistant', content: [], model: body.model, stop_reason: null, stop_sequence: null, usage: { input_tokens: 25, output_tokens: 1 } },
  });
  sse(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  sse(res, 'ping', { type: 'ping' });
  if (body.model === 'stall') {
    sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'thinking' } });
    return; // and never finish
  }
  for (const text of ANTHROPIC_PIECES) sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
  sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
  sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 15 } });
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
  if (body.model === 'stall') {
    sse(res, null, chunk({ content: 'pondering' }));
    return; // and never finish
  }
  for (const content of OPENAI_PIECES) sse(res, null, chunk({ content }));
  sse(res, null, chunk({}, 'stop'));
  sse(res, null, { id: 'chatcmpl-loopback', object: 'chat.completion.chunk', created: 1_700_000_000, model: body.model, choices: [], usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } });
  sse(res, null, '[DONE]');
  res.end();
}

const WEBHOOK_SECRET = 'whsec_lifecycle_test_0123456789';

/** The tenant's webhook endpoint: /ok answers with output and usage, /hang never answers, /garbage and /badjson misbehave. */
function webhookHandler(req: IncomingMessage, res: ServerResponse, rec: Recorded): void {
  const path = (req.url ?? '').split('?')[0];
  if (path === '/ok') {
    const body = JSON.parse(rec.body) as { input: { name?: string } };
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ output: { greeting: `hello ${body.input.name}` }, usage: { input_tokens: 3, output_tokens: 5 } }));
  } else if (path === '/hang') {
    // Never answers.
  } else if (path === '/garbage') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><body>502 Bad Gateway... or is it</body></html>');
  } else if (path === '/badjson') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"output": {"half": ');
  } else {
    res.writeHead(404).end();
  }
}

// ---- helpers ----

async function createAgent(api: ContractFetch, body: Record<string, unknown>): Promise<void> {
  const res = await api.call('POST', '/v1/agents', { body });
  expect(res.status, res.text).toBe(201);
}

async function startRun(api: ContractFetch, agent: string, input: unknown, extra: Record<string, unknown> = {}): Promise<RunBody> {
  const res = await api.call<RunBody>('POST', '/v1/runs', { body: { agent, input, ...extra } });
  expect(res.status, res.text).toBe(201);
  expect(res.body).toMatchObject({ agent, status: 'queued', attempt: 1, output: null, error: null, started_at: null, finished_at: null });
  return res.body;
}

function deltasOf(events: RunEvent[]): unknown[] {
  return events.filter((e) => e.type === 'run.output.delta').map((e) => e.data.delta);
}

/** The event log of a finished run: seq 1..N, queued then started first, run.completed once and last. */
function expectWellFormed(events: RunEvent[], status: string): void {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  expect(events.slice(0, 2).map((e) => [e.type, e.data])).toEqual([
    ['run.queued', { attempt: 1 }],
    ['run.started', { attempt: 1 }],
  ]);
  expect(events.filter((e) => e.type === 'run.completed')).toHaveLength(1);
  expect(events.at(-1)!.type).toBe('run.completed');
  expect(events.at(-1)!.data.status).toBe(status);
}

function expectTimestamps(run: RunBody): void {
  const created = Date.parse(run.created_at);
  const started = Date.parse(run.started_at!);
  const finished = Date.parse(run.finished_at!);
  expect(started).toBeGreaterThanOrEqual(created);
  expect(finished).toBeGreaterThanOrEqual(started);
}

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await sleep(10);
  }
}

/** A local IPv4 address the SSRF filter does not consider private (e.g. 192.0.2.2 on this machine), if any. */
function nonPrivateLocalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal && !checkAddress(a.address).forbidden) return a.address;
  }
  return undefined;
}

// ---- hub A: providers configured, private webhooks allowed ----

describe('runs lifecycle: providers configured, private webhooks allowed', () => {
  let t: TestHub;
  let admin: Tenant;
  let api: ContractFetch;
  let anthropic: LocalServer;
  let openai: LocalServer;
  let hook: LocalServer;

  beforeAll(async () => {
    anthropic = await serve(anthropicHandler);
    openai = await serve(openaiHandler);
    hook = await serve(webhookHandler);
    t = await startTestHub({
      providers: {
        anthropic: { apiKey: 'sk-ant-loopback', baseUrl: anthropic.url, defaultModel: 'claude-default-model' },
        openaiCompatible: { baseUrl: `${openai.url}/v1`, apiKey: 'sk-oai-loopback', defaultModel: 'gpt-default-model' },
      },
      allowPrivateWebhooks: true,
      webhookTimeoutMs: 1_000,
      webhookMaxAttempts: 2,
      // A 60 s lease is renewed every 20 s (the tests' timeout): a cancellation seen here came by NOTIFY.
      runLeaseMs: 60_000,
    });
    admin = await bootstrap(t);
    api = clientFor(t.url, admin.key);
    await createAgent(api, { name: 'anthropic-writer', runtime: 'model', config: { provider: 'anthropic', model: 'claude-test-model', system_prompt: 'You are terse.', max_tokens: 256 } });
    await createAgent(api, { name: 'anthropic-staller', runtime: 'model', config: { provider: 'anthropic', model: 'stall' } });
    await createAgent(api, { name: 'openai-writer', runtime: 'model', config: { provider: 'openai_compatible', model: 'gpt-test-model', system_prompt: 'Be brief.', max_tokens: 128 } });
    await createAgent(api, { name: 'openai-staller', runtime: 'model', config: { provider: 'openai_compatible', model: 'stall' } });
    await createAgent(api, {
      name: 'hook-ok',
      runtime: 'webhook',
      input_schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
      config: { url: `${hook.url}/ok`, signing_secret: WEBHOOK_SECRET },
    });
    await createAgent(api, { name: 'hook-hang', runtime: 'webhook', config: { url: `${hook.url}/hang`, signing_secret: WEBHOOK_SECRET } });
    // The same endpoint with a delivery timeout of 60 s instead of the hub's 1 s: only a cancellation ends its runs soon.
    await createAgent(api, { name: 'hook-hang-long', runtime: 'webhook', config: { url: `${hook.url}/hang`, signing_secret: WEBHOOK_SECRET, timeout_seconds: 60 } });
    await createAgent(api, { name: 'hook-garbage', runtime: 'webhook', config: { url: `${hook.url}/garbage`, signing_secret: WEBHOOK_SECRET } });
    await createAgent(api, { name: 'hook-badjson', runtime: 'webhook', config: { url: `${hook.url}/badjson`, signing_secret: WEBHOOK_SECRET } });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await Promise.all([anthropic, openai, hook].map((s) => s?.close()));
  });

  describe('echo', () => {
    it('goes queued -> running -> succeeded, with its events option, output and usage', { timeout: 20_000 }, async () => {
      const input = { message: 'hi', events: 5, delay_ms: 600, usage: { input_tokens: 7, output_tokens: 9 } };
      const created = await startRun(api, 'echo', input, { metadata: { source: 'lifecycle' }, timeout_seconds: 30 });
      expect(created.input).toEqual(input);
      expect(created.timeout_seconds).toBe(30);
      const running = await pollRun(api, created.id, (r) => r.status !== 'queued');
      expect(running.status).toBe('running');
      expect(running.started_at).not.toBeNull();
      expect(running.finished_at).toBeNull();

      const done = await waitForRun(api, created.id);
      expect(done).toMatchObject({ status: 'succeeded', output: input, error: null, attempt: 1, metadata: { source: 'lifecycle' } });
      expect(done.usage).toMatchObject({ input_tokens: 7, output_tokens: 9 });
      expect(done.usage.run_seconds).toBeGreaterThanOrEqual(0.5);
      expectTimestamps(done);

      const events = await replayEvents(api, created.id);
      expectWellFormed(events, 'succeeded');
      expect(deltasOf(events)).toEqual(['chunk 1', 'chunk 2', 'chunk 3', 'chunk 4', 'chunk 5']);
      expect(events.at(-1)!.data).toEqual({ status: 'succeeded', output: input, error: null });
      expect(events.filter((e) => e.type === 'run.usage').at(-1)!.data).toMatchObject({ input_tokens: 7, output_tokens: 9 });
    });

    it('fails with agent_failed when asked to, after its events', async () => {
      const created = await startRun(api, 'echo', { events: 2, fail: 'on purpose' });
      const done = await waitForRun(api, created.id);
      expect(done.status).toBe('failed');
      expect(done.output).toBeNull();
      expect(done.error).toMatchObject({ code: 'agent_failed', status: 500, detail: 'on purpose', type: 'https://docs.genericcorp.dev/problems/agent_failed' });
      const events = await replayEvents(api, created.id);
      expectWellFormed(events, 'failed');
      expect(deltasOf(events)).toEqual(['chunk 1', 'chunk 2']);
      expect(events.at(-1)!.data).toMatchObject({ status: 'failed', output: null, error: { code: 'agent_failed' } });
    });
  });

  describe('bad input', () => {
    it('refuses an input over the 1 MiB body limit with 413, and queues nothing', async () => {
      const before = (await api.call('GET', '/v1/runs?limit=100')).body.data.length as number;
      const res = await api.call('POST', '/v1/runs', { body: { agent: 'echo', input: 'x'.repeat(1024 * 1024 + 1) } });
      expect(res.status).toBe(413);
      expect(res.body.status).toBe(413);
      expect((await api.call('GET', '/v1/runs?limit=100')).body.data.length).toBe(before);
    });
  });

  describe('model agents', () => {
    it('streams an Anthropic Messages run: deltas in order, usage on the run, the documented request', { timeout: 20_000 }, async () => {
      const before = anthropic.requests.length;
      const input = { ticket: 'ABC-1', text: 'summarise me' };
      const created = await startRun(api, 'anthropic-writer', input);
      const done = await waitForRun(api, created.id);
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
      expect(done.output).toEqual({ text: ANTHROPIC_PIECES.join('') });
      expect(done.usage).toMatchObject({ input_tokens: 25, output_tokens: 15 });
      expectTimestamps(done);

      const events = await replayEvents(api, created.id);
      expectWellFormed(events, 'succeeded');
      expect(deltasOf(events)).toEqual(ANTHROPIC_PIECES);
      const deltaSeqs = events.filter((e) => e.type === 'run.output.delta').map((e) => e.seq);
      expect(deltaSeqs).toEqual(deltaSeqs.map((_, i) => deltaSeqs[0]! + i));
      expect(events.filter((e) => e.type === 'run.usage').at(-1)!.data).toMatchObject({ input_tokens: 25, output_tokens: 15 });

      expect(anthropic.requests.length).toBe(before + 1);
      const req = anthropic.requests.at(-1)!;
      // The SDK sends the key as x-api-key or as a bearer token, depending on its version.
      expect(req.headers['x-api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '')).toBe('sk-ant-loopback');
      expect(req.headers['anthropic-version']).toBeTruthy();
      const sent = JSON.parse(req.body) as { messages: Array<{ role: string; content: string }> };
      expect(sent).toMatchObject({ model: 'claude-test-model', max_tokens: 256, stream: true, system: 'You are terse.' });
      // The input is rendered as JSON (key order is the database's: compare the parsed value).
      expect(sent.messages).toHaveLength(1);
      expect(sent.messages[0]!.role).toBe('user');
      expect(JSON.parse(sent.messages[0]!.content)).toEqual(input);
    });

    it('runs a shipped template on the default provider and model', { timeout: 20_000 }, async () => {
      const created = await startRun(api, 'code-reviewer', { diff: '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n' });
      const done = await waitForRun(api, created.id);
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
      const sent = JSON.parse(anthropic.requests.at(-1)!.body) as { model: string; system?: string };
      expect(sent.model).toBe('claude-default-model');
      expect(sent.system?.length ?? 0).toBeGreaterThan(20);
    });

    it('streams an OpenAI-compatible run: deltas in order, usage on the run, the documented request', { timeout: 20_000 }, async () => {
      const created = await startRun(api, 'openai-writer', 'just a string');
      const done = await waitForRun(api, created.id);
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
      expect(done.output).toEqual({ text: OPENAI_PIECES.join('') });
      expect(done.usage).toMatchObject({ input_tokens: 11, output_tokens: 7 });

      const events = await replayEvents(api, created.id);
      expectWellFormed(events, 'succeeded');
      expect(deltasOf(events)).toEqual(OPENAI_PIECES);
      expect(events.filter((e) => e.type === 'run.log')).toEqual([]);

      const req = openai.requests.at(-1)!;
      expect(req.headers.authorization).toBe('Bearer sk-oai-loopback');
      expect(JSON.parse(req.body)).toMatchObject({
        model: 'gpt-test-model',
        max_tokens: 128,
        stream: true,
        stream_options: { include_usage: true },
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'just a string' },
        ],
      });
    });

    it('cancels a model run mid-stream by NOTIFY, before any lease renewal: the provider connection is closed', { timeout: 20_000 }, async () => {
      const created = await startRun(api, 'openai-staller', 'go slowly');
      // The first delta is stored while the provider's stream is still open: deltas are streamed, not batched.
      await waitForEvent(api, created.id, (e) => e.type === 'run.output.delta');
      const req = openai.requests.at(-1)!;
      expect(req.closedAt).toBeUndefined();
      const cancel = await api.call<RunBody>('POST', `/v1/runs/${created.id}/cancel`);
      expect(cancel.status).toBe(202);
      // The provider never finishes and the first lease renewal is 20 s after the claim: only NOTIFY can end it here.
      const done = await pollRun(api, created.id, (r) => r.status !== 'running', 10_000);
      expect(done.status).toBe('cancelled');
      expect(done.error).toBeNull();
      await until(() => req.closedAt !== undefined, 10_000, 'closing the provider connection');
      const events = await replayEvents(api, created.id);
      expectWellFormed(events, 'cancelled');
      expect(deltasOf(events)).toEqual(['pondering']);
    });

    it('times out a model run that stalls: timed_out, run_timed_out, provider connection closed', { timeout: 20_000 }, async () => {
      const created = await startRun(api, 'anthropic-staller', 'go slowly', { timeout_seconds: 1 });
      const done = await waitForRun(api, created.id, 10_000);
      expect(done.status).toBe('timed_out');
      expect(done.error).toMatchObject({ code: 'run_timed_out', status: 504 });
      expect(done.usage.run_seconds).toBeGreaterThanOrEqual(0.9);
      await until(() => anthropic.requests.at(-1)!.closedAt !== undefined, 10_000, 'closing the provider connection');
      const events = await replayEvents(api, created.id);
      expectWellFormed(events, 'timed_out');
      expect(deltasOf(events)).toEqual(['thinking']);
      expect(events.at(-1)!.data).toMatchObject({ status: 'timed_out', output: null, error: { code: 'run_timed_out' } });
    });
  });

  describe('webhook agents', () => {
    it('delivers a signed request to the endpoint and records its output and usage', { timeout: 20_000 }, async () => {
      const before = hook.requests.length;
      const created = await startRun(api, 'hook-ok', { name: 'Ada' }, { metadata: { pr: '42' } });
      const done = await waitForRun(api, created.id);
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
      expect(done.output).toEqual({ greeting: 'hello Ada' });
      expect(done.usage).toMatchObject({ input_tokens: 3, output_tokens: 5 });

      expect(hook.requests.length).toBe(before + 1);
      const req = hook.requests.at(-1)!;
      expect(req.method).toBe('POST');
      expect(req.headers['content-type']).toMatch(/^application\/json/);
      expect(req.headers['gcorp-run-id']).toBe(created.id);
      const signature = req.headers['gcorp-signature'] as string;
      expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verifyWebhookSignature(WEBHOOK_SECRET, signature, req.body)).toBe(true);
      expect(verifyWebhookSignature('whsec_some_other_secret_000000', signature, req.body)).toBe(false);
      expect(verifyWebhookSignature(WEBHOOK_SECRET, signature, req.body.replace('Ada', 'Eve'))).toBe(false);
      expect(JSON.parse(req.body)).toEqual({ run_id: created.id, agent: 'hook-ok', input: { name: 'Ada' }, metadata: { pr: '42' }, attempt: 1 });

      const events = await replayEvents(api, created.id);
      expectWellFormed(events, 'succeeded');
      expect(deltasOf(events)).toEqual([{ greeting: 'hello Ada' }]);
    });

    it('shows the agent with its input schema and URL, never its secret', async () => {
      const res = await api.call('GET', '/v1/agents/hook-ok');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        name: 'hook-ok',
        kind: 'custom',
        runtime: 'webhook',
        input_schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
        config: { url: `${hook.url}/ok` },
      });
      expect(res.text).not.toContain(WEBHOOK_SECRET);
    });

    it('validates the input against the agent schema before anything is queued', async () => {
      const before = hook.requests.length;
      const res = await api.call('POST', '/v1/runs', { body: { agent: 'hook-ok', input: { name: 42 } } });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('input_invalid');
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: '/body/input/name' })]));
      expect(hook.requests.length).toBe(before);
    });

    it('fails a webhook that hangs with webhook_timeout after its bounded attempts', { timeout: 20_000 }, async () => {
      const before = hook.requests.length;
      const created = await startRun(api, 'hook-hang', { q: 1 });
      const done = await waitForRun(api, created.id, 15_000);
      expect(done.status).toBe('failed');
      expect(done.error).toMatchObject({ code: 'webhook_timeout', status: 504 });
      expect(done.error!.detail).toContain('2 attempts');
      const mine = hook.requests.slice(before).filter((r) => r.headers['gcorp-run-id'] === created.id);
      expect(mine).toHaveLength(2);
      await until(() => mine.every((r) => r.closedAt !== undefined), 10_000, 'closing the hanging connections');
      const events = await replayEvents(api, created.id);
      expectWellFormed(events, 'failed');
      expect(events.filter((e) => e.type === 'run.log').map((e) => e.data.level)).toEqual(['warn']);
    });

    it('fails a webhook that answers garbage with webhook_invalid_response', { timeout: 20_000 }, async () => {
      for (const agent of ['hook-garbage', 'hook-badjson']) {
        const created = await startRun(api, agent, { q: agent });
        const done = await waitForRun(api, created.id);
        expect(done.status).toBe('failed');
        expect(done.error, agent).toMatchObject({ code: 'webhook_invalid_response', status: 502 });
        expect(done.output).toBeNull();
        expectWellFormed(await replayEvents(api, created.id), 'failed');
      }
    });

    it('cancels a webhook run while the endpoint is still thinking', { timeout: 20_000 }, async () => {
      const created = await startRun(api, 'hook-hang-long', { q: 'cancel me' });
      await until(() => hook.requests.some((r) => r.headers['gcorp-run-id'] === created.id), 5_000, 'the delivery');
      const cancel = await api.call<RunBody>('POST', `/v1/runs/${created.id}/cancel`);
      expect(cancel.status).toBe(202);
      // The delivery would hang for 60 s and the first lease renewal is 20 s after the claim: this is the NOTIFY.
      const done = await pollRun(api, created.id, (r) => r.status !== 'running', 10_000);
      expect(done.status).toBe('cancelled');
      const mine = hook.requests.filter((r) => r.headers['gcorp-run-id'] === created.id);
      await until(() => mine.every((r) => r.closedAt !== undefined), 10_000, 'closing the delivery connection');
      expectWellFormed(await replayEvents(api, created.id), 'cancelled');
    });
  });

  describe('cancel and timeout', () => {
    it('cancels a running echo by NOTIFY, before any lease renewal, and a second cancel answers the final state', { timeout: 20_000 }, async () => {
      const created = await startRun(api, 'echo', { delay_ms: 60_000 });
      await pollRun(api, created.id, (r) => r.status === 'running');
      const cancel = await api.call<RunBody>('POST', `/v1/runs/${created.id}/cancel`);
      expect(cancel.status).toBe(202);
      expect(cancel.body.status).toBe('running');
      // Budget 10 s: before the first lease renewal (20 s after the claim) and long before the 60 s delay ends.
      const done = await pollRun(api, created.id, (r) => r.status !== 'running', 10_000);
      expect(done).toMatchObject({ status: 'cancelled', output: null, error: null });
      expectTimestamps(done);
      const events = await replayEvents(api, created.id);
      expectWellFormed(events, 'cancelled');
      expect(events.at(-1)!.data).toEqual({ status: 'cancelled', output: null, error: null });

      const again = await api.call<RunBody>('POST', `/v1/runs/${created.id}/cancel`);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(done);
      // Nothing changed by the second cancel: no new event.
      expect(await replayEvents(api, created.id)).toEqual(events);
    });

    it('cancels a queued run at once (200)', { timeout: 20_000 }, async () => {
      // Fill the in-process worker (8 slots) so the next run stays queued.
      const blockers = await Promise.all(Array.from({ length: 8 }, () => startRun(api, 'echo', { delay_ms: 60_000 })));
      for (const b of blockers) await pollRun(api, b.id, (r) => r.status === 'running');
      const queued = await startRun(api, 'echo', { n: 'queued' });
      const cancel = await api.call<RunBody>('POST', `/v1/runs/${queued.id}/cancel`);
      expect(cancel.status).toBe(200);
      expect(cancel.body).toMatchObject({ status: 'cancelled', started_at: null });
      for (const b of blockers) expect((await api.call('POST', `/v1/runs/${b.id}/cancel`)).status).toBe(202);
      for (const b of blockers) expect((await waitForRun(api, b.id, 10_000)).status).toBe('cancelled');
      // The cancelled queued run is never started afterwards.
      await sleep(300);
      const after = await api.call<RunBody>('GET', `/v1/runs/${queued.id}`);
      expect(after.body).toMatchObject({ status: 'cancelled', started_at: null, attempt: 1 });
      const events = await replayEvents(api, queued.id);
      expect(events.map((e) => e.type)).not.toContain('run.started');
      expect(events[0]!.type).toBe('run.queued');
      expect(events.at(-1)).toMatchObject({ type: 'run.completed', data: { status: 'cancelled', output: null, error: null } });
    });

    it('times a run out: timed_out with run_timed_out', { timeout: 20_000 }, async () => {
      const created = await startRun(api, 'echo', { delay_ms: 10_000, events: 100 }, { timeout_seconds: 1 });
      const done = await waitForRun(api, created.id, 10_000);
      expect(done.status).toBe('timed_out');
      expect(done.output).toBeNull();
      expect(done.error).toMatchObject({ code: 'run_timed_out', status: 504, type: 'https://docs.genericcorp.dev/problems/run_timed_out' });
      expect(done.usage.run_seconds).toBeGreaterThanOrEqual(0.9);
      const events = await replayEvents(api, created.id);
      expectWellFormed(events, 'timed_out');
      expect(deltasOf(events).length).toBeGreaterThan(0);
      expect(deltasOf(events).length).toBeLessThan(100);
    });

    it('answers the final state when a finished run is cancelled', async () => {
      const created = await startRun(api, 'echo', { done: true });
      const done = await waitForRun(api, created.id);
      expect(done.status).toBe('succeeded');
      const cancel = await api.call<RunBody>('POST', `/v1/runs/${created.id}/cancel`);
      expect(cancel.status).toBe(200);
      expect(cancel.body).toEqual(done);
      const failed = await waitForRun(api, (await startRun(api, 'echo', { fail: true })).id);
      const cancelFailed = await api.call<RunBody>('POST', `/v1/runs/${failed.id}/cancel`);
      expect(cancelFailed.status).toBe(200);
      expect(cancelFailed.body).toEqual(failed);
    });
  });
});

// ---- hub B: no provider configured, private webhooks refused (the defaults) ----

describe('runs lifecycle: no provider configured, private webhooks refused', () => {
  let t: TestHub;
  let admin: Tenant;
  let api: ContractFetch;
  let loopbackHook: LocalServer;
  let redirector: LocalServer | undefined;
  const publicAddress = nonPrivateLocalAddress();

  beforeAll(async () => {
    loopbackHook = await serve(webhookHandler);
    if (publicAddress) {
      redirector = await serve((_req, res) => {
        res.writeHead(307, { location: `${loopbackHook.url}/ok` }).end();
      }, publicAddress);
    }
    t = await startTestHub({ providers: {}, allowPrivateWebhooks: false });
    admin = await bootstrap(t);
    api = clientFor(t.url, admin.key);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await loopbackHook?.close();
    await redirector?.close();
  });

  it('fails model runs with provider_not_configured', { timeout: 20_000 }, async () => {
    const template = await startRun(api, 'code-reviewer', { diff: '-a\n+b\n' });
    const done = await waitForRun(api, template.id);
    expect(done.status).toBe('failed');
    expect(done.attempt).toBe(1);
    expect(done.error).toMatchObject({ code: 'provider_not_configured', status: 503, type: 'https://docs.genericcorp.dev/problems/provider_not_configured' });
    expect(done.error!.detail).toContain('ANTHROPIC_API_KEY');
    expectWellFormed(await replayEvents(api, template.id), 'failed');

    await createAgent(api, { name: 'openai-only', runtime: 'model', config: { provider: 'openai_compatible', model: 'gpt-x' } });
    const custom = await waitForRun(api, (await startRun(api, 'openai-only', 'hello')).id);
    expect(custom.status).toBe('failed');
    expect(custom.error).toMatchObject({ code: 'provider_not_configured' });
    expect(custom.error!.detail).toContain('GCORP_OPENAI_BASE_URL');
  });

  it('refuses to create a webhook agent whose URL is a loopback address (400)', async () => {
    // openapi.yaml (createAgent): "Webhook URLs that resolve to private or loopback addresses are refused (400)
    // unless the operator allows them."
    const res = await api.call('POST', '/v1/agents', {
      body: { name: 'hook-loopback', runtime: 'webhook', config: { url: `${loopbackHook.url}/ok`, signing_secret: WEBHOOK_SECRET } },
    });
    expect(res.status, res.text).toBe(400);
    expect(loopbackHook.requests).toHaveLength(0);
  });

  it('fails a webhook that redirects to a private address with webhook_target_forbidden', { timeout: 20_000 }, async () => {
    // The first hop must be an address the filter accepts: a non-private address of this machine's own interfaces.
    expect(publicAddress, 'this test needs a local IPv4 address outside the private ranges (e.g. 192.0.2.2)').toBeDefined();
    await createAgent(api, { name: 'hook-redirect', runtime: 'webhook', config: { url: `${redirector!.url}/start`, signing_secret: WEBHOOK_SECRET } });
    const created = await startRun(api, 'hook-redirect', { name: 'Mallory' });
    const done = await waitForRun(api, created.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'webhook_target_forbidden', status: 403 });
    expect(done.error!.detail).toContain('redirect');
    expect(redirector!.requests).toHaveLength(1);
    expect(loopbackHook.requests).toHaveLength(0);
    expectWellFormed(await replayEvents(api, created.id), 'failed');
  });
});
