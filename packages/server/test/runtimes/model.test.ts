// The model runtime against loopback HTTP servers that speak each provider's documented streaming format:
// Anthropic Messages SSE (message_start ... message_stop) and OpenAI chat-completions chunks ending in [DONE].
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRuntimes,
  PROVIDER_ENV_VARS,
  providerSettingsFromEnv,
  RunFailure,
  TEMPLATE_AGENTS,
  type AgentDefinition,
  type RuntimeOptions,
} from '../../src/runtimes/index.js';
import { deltas, makeContext, rejectionOf, startServer, within, type TestServer } from './helpers.js';

const WEBHOOK = { allowPrivate: false, timeoutMs: 1000, maxAttempts: 1, maxResponseBytes: 1024 };

function modelAgent(config: Record<string, unknown>): AgentDefinition {
  return {
    id: 'agt_01jdz3ka0b1c2d3e4f5g6h7j8k',
    name: 'summarizer',
    kind: 'custom',
    runtime: 'model',
    description: '',
    input_schema: null,
    config: { provider: null, model: 'claude-test', system_prompt: 'You summarize.', max_tokens: 256, ...config },
  };
}

function runtimeFor(options: Partial<RuntimeOptions>, agent: AgentDefinition) {
  return createRuntimes({ providers: {}, webhook: WEBHOOK, providerMaxRetries: 0, ...options }).forAgent(agent, 'ten_a');
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function serve(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}

// ---- Anthropic ----

function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function anthropicStart(res: ServerResponse, inputTokens = 25): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': 'req_test' });
  sse(res, 'message_start', {
    type: 'message_start',
    message: {
      id: 'msg_01test',
      type: 'message',
      role: 'assistant',
      content: [],
      model: 'claude-test',
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: 1 },
    },
  });
  sse(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  sse(res, 'ping', { type: 'ping' });
}

function anthropicDelta(res: ServerResponse, text: string): void {
  sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
}

function anthropicEnd(res: ServerResponse, outputTokens: number, stopReason = 'end_turn'): void {
  sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
  sse(res, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: outputTokens },
  });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

function anthropicError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_err' });
  res.end(JSON.stringify({ type: 'error', error: { type, message } }));
}

describe('model runtime: Anthropic', { timeout: 15_000 }, () => {
  it('streams text deltas in order, records usage, and sends the documented request', async () => {
    const server = await serve((_req, res) => {
      anthropicStart(res);
      for (const piece of ['Hello', ', ', 'world', '!']) anthropicDelta(res, piece);
      anthropicEnd(res, 15);
    });
    const agent = modelAgent({ provider: 'anthropic' });
    const runtime = runtimeFor({ providers: { anthropic: { apiKey: 'sk-ant-test', baseUrl: server.url, defaultModel: 'claude-default' } } }, agent);
    const ctx = makeContext(agent, { ticket: 'ABC-1', text: 'long story' });

    const result = await within(runtime.execute(ctx), 10_000, 'anthropic run');

    expect(result).toEqual({ output: { text: 'Hello, world!' }, usage: { input_tokens: 25, output_tokens: 15 } });
    expect(deltas(ctx.events)).toEqual(['Hello', ', ', 'world', '!']);
    expect(ctx.events.at(-1)).toEqual({ type: 'run.usage', data: { input_tokens: 25, output_tokens: 15 } });

    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/messages');
    expect(req.headers['anthropic-version']).toBeTruthy();
    expect(`${req.headers['x-api-key'] ?? ''} ${req.headers.authorization ?? ''}`).toContain('sk-ant-test');
    const body = JSON.parse(req.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      model: 'claude-test',
      max_tokens: 256,
      system: 'You summarize.',
      stream: true,
      messages: [{ role: 'user', content: JSON.stringify({ ticket: 'ABC-1', text: 'long story' }, null, 2) }],
    });
  });

  it('sends a string input as is and uses the default model for `default`', async () => {
    const server = await serve((_req, res) => {
      anthropicStart(res, 3);
      anthropicDelta(res, 'ok');
      anthropicEnd(res, 1, 'max_tokens');
    });
    const agent = TEMPLATE_AGENTS.find((a) => a.name === 'code-reviewer')!;
    const runtime = runtimeFor({ providers: { anthropic: { apiKey: 'k', baseUrl: server.url, defaultModel: 'claude-default' } } }, agent);
    const ctx = makeContext(agent, 'just a string');
    const result = await runtime.execute(ctx);
    expect(result.output).toEqual({ text: 'ok' });
    const body = JSON.parse(server.requests[0]!.body) as { model: string; messages: Array<{ content: string }>; system: string };
    expect(body.model).toBe('claude-default');
    expect(body.messages[0]!.content).toBe('just a string');
    expect(body.system).toContain('code review');
    // A truncated answer is flagged in the run's log.
    expect(ctx.events).toContainEqual({
      type: 'run.log',
      data: { level: 'warn', message: 'output truncated: the model reached max_tokens (4096)' },
    });
  });

  it('maps 401 to provider_auth_failed (not retryable)', async () => {
    const server = await serve((_req, res) => anthropicError(res, 401, 'authentication_error', 'invalid x-api-key'));
    const agent = modelAgent({ provider: 'anthropic' });
    const runtime = runtimeFor({ providers: { anthropic: { apiKey: 'bad', baseUrl: server.url, defaultModel: 'm' } } }, agent);
    const err = await rejectionOf(runtime.execute(makeContext(agent, 'hi')));
    expect(err).toBeInstanceOf(RunFailure);
    expect(err).toMatchObject({ code: 'provider_auth_failed', retryable: false });
    expect((err as RunFailure).detail).toContain('invalid x-api-key');
    expect((err as RunFailure).detail).not.toContain('bad');
  });

  it('maps 529 to provider_overloaded and 500 to provider_error, both retryable', async () => {
    const overloaded = await serve((_req, res) => anthropicError(res, 529, 'overloaded_error', 'Overloaded'));
    const broken = await serve((_req, res) => anthropicError(res, 500, 'api_error', 'Internal server error'));
    const agent = modelAgent({ provider: 'anthropic' });
    for (const [server, code] of [
      [overloaded, 'provider_overloaded'],
      [broken, 'provider_error'],
    ] as const) {
      const runtime = runtimeFor({ providers: { anthropic: { apiKey: 'k', baseUrl: server.url, defaultModel: 'm' } } }, agent);
      const err = await rejectionOf(runtime.execute(makeContext(agent, 'hi')));
      expect(err).toMatchObject({ code, retryable: true });
      expect(server.requests).toHaveLength(1); // providerMaxRetries: 0
    }
  });

  it('maps 429 to provider_rate_limited and an overloaded error event mid-stream to provider_overloaded', async () => {
    const limited = await serve((_req, res) => anthropicError(res, 429, 'rate_limit_error', 'slow down'));
    const midStream = await serve((_req, res) => {
      anthropicStart(res);
      anthropicDelta(res, 'partial');
      sse(res, 'error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
      res.end();
    });
    const agent = modelAgent({ provider: 'anthropic' });
    const run = (url: string) =>
      rejectionOf(runtimeFor({ providers: { anthropic: { apiKey: 'k', baseUrl: url, defaultModel: 'm' } } }, agent).execute(makeContext(agent, 'x')));
    expect(await run(limited.url)).toMatchObject({ code: 'provider_rate_limited', retryable: true });
    expect(await run(midStream.url)).toMatchObject({ code: 'provider_overloaded', retryable: true });
  });

  it('retries an overloaded answer within providerMaxRetries', async () => {
    const server = await serve((_req, res, _body, i) => {
      if (i === 0) {
        res.setHeader('retry-after-ms', '10');
        anthropicError(res, 529, 'overloaded_error', 'Overloaded');
        return;
      }
      anthropicStart(res, 4);
      anthropicDelta(res, 'second time lucky');
      anthropicEnd(res, 3);
    });
    const agent = modelAgent({ provider: 'anthropic' });
    const runtime = runtimeFor(
      { providerMaxRetries: 1, providers: { anthropic: { apiKey: 'k', baseUrl: server.url, defaultModel: 'm' } } },
      agent,
    );
    const result = await within(runtime.execute(makeContext(agent, 'x')), 10_000, 'retried run');
    expect(result.output).toEqual({ text: 'second time lucky' });
    expect(server.requests).toHaveLength(2);
  });

  it('maps a refused connection to provider_unreachable (retryable)', async () => {
    const closed = await serve(() => undefined);
    const url = closed.url;
    await closed.close();
    servers.splice(servers.indexOf(closed), 1);
    const agent = modelAgent({ provider: 'anthropic' });
    const err = await rejectionOf(
      runtimeFor({ providers: { anthropic: { apiKey: 'k', baseUrl: url, defaultModel: 'm' } } }, agent).execute(makeContext(agent, 'x')),
    );
    expect(err).toMatchObject({ code: 'provider_unreachable', retryable: true });
  });

  it('aborting mid-stream rejects with the reason and closes the HTTP stream', async () => {
    const server = await serve((_req, res) => {
      anthropicStart(res);
      anthropicDelta(res, 'first');
      // ...and the model never finishes.
    });
    const agent = modelAgent({ provider: 'anthropic' });
    const runtime = runtimeFor({ providers: { anthropic: { apiKey: 'k', baseUrl: server.url, defaultModel: 'm' } } }, agent);
    const ctx = makeContext(agent, 'x');
    const running = runtime.execute(ctx);
    await within(ctx.waitForEvents('run.output.delta', 1), 5000, 'first delta');
    const reason = new Error('run cancelled');
    ctx.controller.abort(reason);
    // The model never finishes: only the abort ends the run, which its reason shows.
    expect(await within(rejectionOf(running), 5_000, 'abort')).toBe(reason);
    await within(server.closed, 5_000, 'server-side close');
    expect(deltas(ctx.events)).toEqual(['first']);
  });
});

// ---- OpenAI-compatible ----

function chunk(res: ServerResponse, data: unknown): void {
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}

function openaiStart(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
}

function openaiDelta(res: ServerResponse, content: string, finish: string | null = null): void {
  chunk(res, {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1_732_000_000,
    model: 'llama-test',
    choices: [{ index: 0, delta: { content }, finish_reason: finish }],
  });
}

function openaiEnd(res: ServerResponse, prompt: number, completion: number, finish = 'stop'): void {
  chunk(res, {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1_732_000_000,
    model: 'llama-test',
    choices: [{ index: 0, delta: {}, finish_reason: finish }],
  });
  chunk(res, {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1_732_000_000,
    model: 'llama-test',
    choices: [],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  });
  res.write('data: [DONE]\n\n');
  res.end();
}

describe('model runtime: OpenAI-compatible', { timeout: 15_000 }, () => {
  it('streams chat-completion chunks in order, records usage, and sends the documented request', async () => {
    const server = await serve((_req, res) => {
      openaiStart(res);
      res.write(': a comment line, ignored\n\n');
      chunk(res, { id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] });
      for (const piece of ['Tri', 'age', ' done']) openaiDelta(res, piece);
      openaiEnd(res, 12, 5);
    });
    const agent = modelAgent({ provider: 'openai_compatible', model: 'llama-test' });
    const runtime = runtimeFor(
      { providers: { openaiCompatible: { baseUrl: `${server.url}/v1`, apiKey: 'sk-local', defaultModel: 'd' } } },
      agent,
    );
    const ctx = makeContext(agent, { incident: 'db down' });
    const result = await within(runtime.execute(ctx), 10_000, 'openai run');

    expect(result).toEqual({ output: { text: 'Triage done' }, usage: { input_tokens: 12, output_tokens: 5 } });
    expect(deltas(ctx.events)).toEqual(['Tri', 'age', ' done']);
    expect(ctx.events.at(-1)).toEqual({ type: 'run.usage', data: { input_tokens: 12, output_tokens: 5 } });

    const req = server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe('Bearer sk-local');
    expect(JSON.parse(req.body)).toEqual({
      model: 'llama-test',
      messages: [
        { role: 'system', content: 'You summarize.' },
        { role: 'user', content: JSON.stringify({ incident: 'db down' }, null, 2) },
      ],
      max_tokens: 256,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('is the default provider when Anthropic is not configured, with its default model', async () => {
    const server = await serve((_req, res) => {
      openaiStart(res);
      openaiDelta(res, 'hi');
      openaiEnd(res, 1, 1);
    });
    const agent = modelAgent({ provider: null, model: 'default' });
    const runtime = runtimeFor({ providers: { openaiCompatible: { baseUrl: server.url, defaultModel: 'qwen-local' } } }, agent);
    const result = await runtime.execute(makeContext(agent, 'x'));
    expect(result.output).toEqual({ text: 'hi' });
    expect(server.requests[0]!.url).toBe('/chat/completions');
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
    expect((JSON.parse(server.requests[0]!.body) as { model: string }).model).toBe('qwen-local');
  });

  it('maps 401 to provider_auth_failed and 500 to a retryable provider_error', async () => {
    const denied = await serve((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } }));
    });
    const broken = await serve((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('upstream exploded');
    });
    const agent = modelAgent({ provider: 'openai_compatible' });
    const run = (url: string) =>
      rejectionOf(runtimeFor({ providers: { openaiCompatible: { baseUrl: url, defaultModel: 'm' } } }, agent).execute(makeContext(agent, 'x')));
    const auth = await run(denied.url);
    expect(auth).toMatchObject({ code: 'provider_auth_failed', retryable: false });
    expect((auth as RunFailure).detail).toContain('Incorrect API key provided');
    const err = await run(broken.url);
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
    expect((err as RunFailure).detail).toContain('upstream exploded');
  });

  it('maps 529 to provider_overloaded and retries a 500 within providerMaxRetries', async () => {
    const overloaded = await serve((_req, res) => {
      res.writeHead(529, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"overloaded"}}');
    });
    const agent = modelAgent({ provider: 'openai_compatible' });
    expect(
      await rejectionOf(
        runtimeFor({ providers: { openaiCompatible: { baseUrl: overloaded.url, defaultModel: 'm' } } }, agent).execute(makeContext(agent, 'x')),
      ),
    ).toMatchObject({ code: 'provider_overloaded', retryable: true });

    const flaky = await serve((_req, res, _body, i) => {
      if (i === 0) {
        res.writeHead(500, { 'retry-after': '0' });
        res.end();
        return;
      }
      openaiStart(res);
      openaiDelta(res, 'recovered');
      openaiEnd(res, 2, 1);
    });
    const runtime = runtimeFor({ providerMaxRetries: 2, providers: { openaiCompatible: { baseUrl: flaky.url, defaultModel: 'm' } } }, agent);
    const ctx = makeContext(agent, 'x');
    expect((await runtime.execute(ctx)).output).toEqual({ text: 'recovered' });
    expect(flaky.requests).toHaveLength(2);
    expect(deltas(ctx.events)).toEqual(['recovered']);
  });

  it('maps a refused connection to provider_unreachable and a non-stream answer to provider_invalid_response', async () => {
    const gone = await serve(() => undefined);
    const goneUrl = gone.url;
    await gone.close();
    servers.splice(servers.indexOf(gone), 1);
    const html = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>login</html>');
    });
    const garbage = await serve((_req, res) => {
      openaiStart(res);
      res.write('data: {not json\n\n');
      res.end();
    });
    const agent = modelAgent({ provider: 'openai_compatible' });
    const run = (url: string) =>
      rejectionOf(runtimeFor({ providers: { openaiCompatible: { baseUrl: url, defaultModel: 'm' } } }, agent).execute(makeContext(agent, 'x')));
    expect(await run(goneUrl)).toMatchObject({ code: 'provider_unreachable', retryable: true });
    expect(await run(html.url)).toMatchObject({ code: 'provider_invalid_response' });
    expect(await run(garbage.url)).toMatchObject({ code: 'provider_invalid_response' });
  });

  it('aborting mid-stream rejects with the reason and closes the HTTP stream', async () => {
    const server = await serve((_req, res) => {
      openaiStart(res);
      openaiDelta(res, 'first');
    });
    const agent = modelAgent({ provider: 'openai_compatible' });
    const runtime = runtimeFor({ providers: { openaiCompatible: { baseUrl: server.url, defaultModel: 'm' } } }, agent);
    const ctx = makeContext(agent, 'x');
    const running = runtime.execute(ctx);
    await within(ctx.waitForEvents('run.output.delta', 1), 5000, 'first delta');
    const reason = new Error('run timed out');
    ctx.controller.abort(reason);
    // The model never finishes: only the abort ends the run, which its reason shows.
    expect(await within(rejectionOf(running), 5_000, 'abort')).toBe(reason);
    await within(server.closed, 5_000, 'server-side close');
  });
});

// ---- provider selection ----

describe('model runtime: provider selection', { timeout: 15_000 }, () => {
  it('fails with provider_not_configured, naming the variables to set, when no provider is configured', async () => {
    const agent = modelAgent({ provider: null });
    const err = await rejectionOf(runtimeFor({ providers: {} }, agent).execute(makeContext(agent, 'x')));
    expect(err).toBeInstanceOf(RunFailure);
    const failure = err as RunFailure;
    expect(failure.code).toBe('provider_not_configured');
    expect(failure.status).toBe(503);
    expect(failure.title).toBe('Model provider not configured');
    expect(failure.detail).toContain(PROVIDER_ENV_VARS.anthropic.apiKey);
    expect(failure.detail).toContain(PROVIDER_ENV_VARS.openaiCompatible.baseUrl);
  });

  it('fails with provider_not_configured when the agent names a provider that is not configured', async () => {
    const agent = modelAgent({ provider: 'anthropic' });
    const runtime = runtimeFor({ providers: { openaiCompatible: { baseUrl: 'http://127.0.0.1:9', defaultModel: 'm' } } }, agent);
    const err = await rejectionOf(runtime.execute(makeContext(agent, 'x')));
    expect(err).toMatchObject({ code: 'provider_not_configured' });
    expect((err as RunFailure).detail).toContain('ANTHROPIC_API_KEY');
  });

  it("uses a tenant's own provider settings over the instance's", async () => {
    const tenantServer = await serve((_req, res) => {
      anthropicStart(res, 2);
      anthropicDelta(res, 'from the tenant provider');
      anthropicEnd(res, 2);
    });
    const agent = modelAgent({ provider: null, model: '' });
    const seen: string[] = [];
    const runtime = runtimeFor(
      {
        providers: {},
        // The tenant's base URL is a loopback server: allowed only where the operator allows private targets.
        webhook: { ...WEBHOOK, allowPrivate: true },
        tenantProviders: async (tenantId) => {
          seen.push(tenantId);
          return { anthropic: { apiKey: 'tenant-key', baseUrl: tenantServer.url, defaultModel: 'tenant-model' } };
        },
      },
      agent,
    );
    const result = await runtime.execute(makeContext(agent, 'x'));
    expect(result.output).toEqual({ text: 'from the tenant provider' });
    expect(seen).toEqual(['ten_01jdz7r8s9t0v1w2x3y4z5a6b7']);
    expect((JSON.parse(tenantServer.requests[0]!.body) as { model: string }).model).toBe('tenant-model');
  });

  it('aborting while tenant settings are being looked up rejects with the reason', async () => {
    const agent = modelAgent({ provider: null });
    const runtime = runtimeFor({ tenantProviders: () => new Promise(() => undefined) }, agent);
    const ctx = makeContext(agent, 'x');
    const running = runtime.execute(ctx);
    await new Promise((r) => setTimeout(r, 20));
    const reason = new Error('cancelled');
    ctx.controller.abort(reason);
    // The look-up never answers: only the abort can end the run.
    expect(await within(rejectionOf(running), 5_000, 'abort during look-up')).toBe(reason);
  });

  it('reads provider settings from environment variables', () => {
    expect(providerSettingsFromEnv({})).toEqual({});
    expect(
      providerSettingsFromEnv({
        ANTHROPIC_API_KEY: 'sk-ant',
        GCORP_OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
        GCORP_OPENAI_MODEL: 'llama3',
      }),
    ).toEqual({
      anthropic: { apiKey: 'sk-ant', defaultModel: 'claude-sonnet-4-5' },
      openaiCompatible: { baseUrl: 'http://127.0.0.1:11434/v1', defaultModel: 'llama3' },
    });
    expect(() => providerSettingsFromEnv({ GCORP_OPENAI_BASE_URL: 'http://x' })).toThrow(/GCORP_OPENAI_MODEL/);
    expect(() => providerSettingsFromEnv({ ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: 'ftp://x' })).toThrow(/http/);
  });

  it('rejects a malformed model configuration with agent_misconfigured', async () => {
    const agent = modelAgent({ provider: 'gemini' });
    const err = await rejectionOf(runtimeFor({ providers: {} }, agent).execute(makeContext(agent, 'x')));
    expect(err).toMatchObject({ code: 'agent_misconfigured' });
  });
});
