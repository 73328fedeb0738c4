// The webhook runtime against real HTTP servers on loopback addresses. Private-address refusal is tested with
// `allowPrivate: false` and an operator allow-list of 127.0.0.2/32: the tenant's endpoint listens on 127.0.0.2 and
// redirects to 127.0.0.1, which stays forbidden. No test sends traffic anywhere but the loopback interface.
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRuntimes,
  RunFailure,
  signWebhookPayload,
  verifyWebhookSignature,
  type AgentDefinition,
  type WebhookSettings,
} from '../../src/runtimes/index.js';
import { deltas, makeContext, rejectionOf, startServer, within, type TestServer } from './helpers.js';

const SECRET = 'whsec_9fK2mQ7xV4pL8sR1tZ6yN3bH5cJ0dW2g';

function hookAgent(url: string, extra: Record<string, unknown> = {}): AgentDefinition {
  return {
    id: 'agt_01jdz3ka0b1c2d3e4f5g6h7j8k',
    name: 'jira-sync',
    kind: 'custom',
    runtime: 'webhook',
    description: '',
    input_schema: null,
    config: { url, signing_secret: SECRET, ...extra },
  };
}

const BASE: WebhookSettings = {
  allowPrivate: true,
  timeoutMs: 2000,
  maxAttempts: 3,
  maxResponseBytes: 64 * 1024,
  retryBaseMs: 10,
};

function runHook(url: string, settings: Partial<WebhookSettings> = {}, input: unknown = { issue: 'ABC-1' }, extra = {}) {
  const agent = hookAgent(url, extra);
  const runtime = createRuntimes({ providers: {}, webhook: { ...BASE, ...settings } }).forAgent(agent, 'ten_a');
  const ctx = makeContext(agent, input);
  return { ctx, result: runtime.execute(ctx) };
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

function json(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

describe('webhook runtime: delivery', { timeout: 15_000 }, () => {
  it('POSTs the signed run and returns the JSON reply as output', async () => {
    const server = await serve((_req, res) => json(res, 200, { status: 'synced', tickets: 3 }));
    const before = Math.floor(Date.now() / 1000);
    const { ctx, result } = runHook(server.url + '/gcorp/hook?x=1');
    const out = await within(result, 5000, 'delivery');
    const after = Math.ceil(Date.now() / 1000);

    expect(out).toEqual({ output: { status: 'synced', tickets: 3 }, usage: { input_tokens: 0, output_tokens: 0 } });
    expect(deltas(ctx.events)).toEqual([{ status: 'synced', tickets: 3 }]);

    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/gcorp/hook?x=1');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toBe('GenericCorp-Hub');
    expect(req.headers['gcorp-run-id']).toBe(ctx.runId);
    expect(JSON.parse(req.body)).toEqual({
      run_id: ctx.runId,
      agent: 'jira-sync',
      input: { issue: 'ABC-1' },
      metadata: { source: 'test' },
      attempt: 1,
    });

    // The signature covers the timestamp and the raw body, Stripe-style, and a receiver can check it.
    const header = String(req.headers['gcorp-signature']);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const t = Number(/t=(\d+)/.exec(header)![1]);
    // Signed during the delivery (bracketed by the clock, not bounded by an elapsed time).
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
    expect(verifyWebhookSignature(SECRET, header, req.body)).toBe(true);
    expect(verifyWebhookSignature(SECRET, header, Buffer.from(req.body))).toBe(true);
    expect(verifyWebhookSignature('another-secret-of-16', header, req.body)).toBe(false);
    expect(verifyWebhookSignature(SECRET, header, req.body.replace('ABC-1', 'ABC-2'))).toBe(false);
    expect(verifyWebhookSignature(SECRET, header, req.body, 300, Date.now() + 301_000)).toBe(false);
    expect(verifyWebhookSignature(SECRET, undefined, req.body)).toBe(false);
    expect(verifyWebhookSignature(SECRET, 'garbage', req.body)).toBe(false);
  });

  it('signs as documented: hex HMAC-SHA256 of "<t>.<body>"', async () => {
    const { createHmac } = await import('node:crypto');
    const body = '{"a":1}';
    const expected = createHmac('sha256', SECRET).update(`1700000000.${body}`).digest('hex');
    expect(signWebhookPayload(SECRET, body, 1_700_000_000)).toBe(`t=1700000000,v1=${expected}`);
    // Several v1 values (secret rotation) verify when one matches.
    const header = `t=1700000000,v1=${'0'.repeat(64)},v1=${expected}`;
    expect(verifyWebhookSignature(SECRET, header, body, 300, 1_700_000_100_000)).toBe(true);
  });

  it('uses {output, usage} from a reply of that shape', async () => {
    const server = await serve((_req, res) => json(res, 200, { output: { summary: 'done' }, usage: { input_tokens: 7, output_tokens: 9 } }));
    const { ctx, result } = runHook(server.url);
    expect(await result).toEqual({ output: { summary: 'done' }, usage: { input_tokens: 7, output_tokens: 9 } });
    expect(ctx.events).toContainEqual({ type: 'run.usage', data: { input_tokens: 7, output_tokens: 9 } });
  });

  it('retries a 500 and succeeds on the next attempt, logging the retry', async () => {
    const server = await serve((_req, res, _body, i) => (i === 0 ? json(res, 500, { error: 'boom' }) : json(res, 200, { ok: true })));
    const { ctx, result } = runHook(server.url);
    expect((await within(result, 5000, 'retried delivery')).output).toEqual({ ok: true });
    expect(server.requests).toHaveLength(2);
    const logs = ctx.events.filter((e) => e.type === 'run.log');
    expect(logs).toHaveLength(1);
    expect(JSON.stringify(logs[0])).toContain('attempt 1 of 3');
    // Each attempt is signed afresh and carries the same body.
    expect(server.requests[1]!.body).toBe(server.requests[0]!.body);
    expect(verifyWebhookSignature(SECRET, String(server.requests[1]!.headers['gcorp-signature']), server.requests[1]!.body)).toBe(true);
  });

  it('retries 429 and 503 up to maxAttempts, then fails with the last error', async () => {
    const server = await serve((_req, res, _body, i) => {
      res.writeHead(i % 2 === 0 ? 429 : 503, { 'retry-after': '0' });
      res.end('busy');
    });
    const { result } = runHook(server.url);
    const err = await within(rejectionOf(result), 5000, 'failing delivery');
    expect(err).toBeInstanceOf(RunFailure);
    expect(err).toMatchObject({ code: 'webhook_http_error', retryable: false });
    expect((err as RunFailure).detail).toContain('HTTP 429');
    expect((err as RunFailure).detail).toContain('after 3 attempts');
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry other 4xx answers', async () => {
    const server = await serve((_req, res) => json(res, 422, { error: 'unknown project' }));
    const err = await rejectionOf(runHook(server.url).result);
    expect(err).toMatchObject({ code: 'webhook_http_error', retryable: false });
    expect((err as RunFailure).detail).toContain('HTTP 422');
    expect((err as RunFailure).detail).toContain('unknown project');
    expect(server.requests).toHaveLength(1);
  });

  it('times out a hanging endpoint on each attempt and fails after the retries', async () => {
    const server = await serve(() => undefined); // never answers
    const t0 = Date.now();
    const err = await within(rejectionOf(runHook(server.url, { timeoutMs: 150, maxAttempts: 2 }).result), 5000, 'hanging delivery');
    expect(err).toMatchObject({ code: 'webhook_timeout', retryable: false, status: 504 });
    expect((err as RunFailure).detail).toContain('150 ms');
    expect(server.requests).toHaveLength(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it("an agent's timeout_seconds overrides the instance timeout", async () => {
    const server = await serve((_req, res) => {
      setTimeout(() => json(res, 200, { late: true }), 300);
    });
    const err = await rejectionOf(runHook(server.url, { timeoutMs: 60_000, maxAttempts: 1 }, {}, { timeout_seconds: 0.1 }).result);
    expect(err).toMatchObject({ code: 'webhook_timeout' });
  });

  it('times out an endpoint that sends headers then stalls the body', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":');
    });
    const err = await within(rejectionOf(runHook(server.url, { timeoutMs: 150, maxAttempts: 1 }).result), 5000, 'stalled body');
    expect(err).toMatchObject({ code: 'webhook_timeout' });
  });

  it('fails with webhook_invalid_response on garbage', async () => {
    const text = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>hello</html>');
    });
    const broken = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end('{"not": json');
    });
    const untyped = await serve((_req, res) => {
      res.writeHead(200);
      res.end('{"ok":true}');
    });
    for (const s of [text, broken, untyped]) {
      const err = await rejectionOf(runHook(s.url).result);
      expect(err).toMatchObject({ code: 'webhook_invalid_response', retryable: false });
      expect(s.requests).toHaveLength(1);
    }
  });

  it('accepts +json media types and treats 204 as a null output', async () => {
    const problem = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.acme+json' });
      res.end('[1,2,3]');
    });
    expect((await runHook(problem.url).result).output).toEqual([1, 2, 3]);
    const empty = await serve((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    expect((await runHook(empty.url).result).output).toBeNull();
  });

  it('stops reading an oversized reply and fails with webhook_response_too_large', async () => {
    let written = 0;
    const streaming = await serve((_req, res) => {
      // Chunked (no Content-Length): 10 MiB in 64 KiB pieces, written as fast as the client reads.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('["');
      const piece = 'x'.repeat(64 * 1024);
      const pump = () => {
        while (written < 10 * 1024 * 1024) {
          written += piece.length;
          if (!res.write(piece)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end('"]');
      };
      pump();
    });
    const err = await within(rejectionOf(runHook(streaming.url, { maxResponseBytes: 100 * 1024 }).result), 5000, 'big reply');
    expect(err).toMatchObject({ code: 'webhook_response_too_large', retryable: false });
    expect(written).toBeLessThan(10 * 1024 * 1024);

    const declared = await serve((_req, res) => {
      const body = JSON.stringify({ blob: 'y'.repeat(200 * 1024) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    expect(await rejectionOf(runHook(declared.url, { maxResponseBytes: 100 * 1024 }).result)).toMatchObject({
      code: 'webhook_response_too_large',
    });
  });

  it('fails with webhook_unreachable when nothing listens, after the retries', async () => {
    const gone = await serve(() => undefined);
    const url = gone.url;
    await gone.close();
    servers.splice(servers.indexOf(gone), 1);
    const { ctx, result } = runHook(url, { maxAttempts: 2 });
    const err = await within(rejectionOf(result), 5000, 'unreachable');
    expect(err).toMatchObject({ code: 'webhook_unreachable', retryable: false });
    expect(ctx.events.filter((e) => e.type === 'run.log')).toHaveLength(1);
  });

  it('rejects non-http URLs and a missing secret', async () => {
    expect(await rejectionOf(runHook('ftp://127.0.0.1/x').result)).toMatchObject({ code: 'webhook_invalid_url' });
    expect(await rejectionOf(runHook('not a url').result)).toMatchObject({ code: 'webhook_invalid_url' });
    const agent = { ...hookAgent('http://127.0.0.1:9/'), config: { url: 'http://127.0.0.1:9/' } };
    const runtime = createRuntimes({ providers: {}, webhook: BASE }).forAgent(agent, 't');
    expect(await rejectionOf(runtime.execute(makeContext(agent, {})))).toMatchObject({ code: 'agent_misconfigured' });
  });

  it('aborting a hanging delivery rejects with the reason and closes the connection', async () => {
    const server = await serve(() => undefined);
    const { ctx, result } = runHook(server.url, { timeoutMs: 60_000 });
    await within(
      (async () => {
        while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      'request arrival',
    );
    const reason = new Error('cancelled');
    ctx.controller.abort(reason);
    // The endpoint never answers and the delivery timeout is 60 s: only the abort ends it within these budgets.
    expect(await within(rejectionOf(result), 5_000, 'abort')).toBe(reason);
    await within(server.closed, 5_000, 'server-side close');
  });
  it('aborting while the host name is being resolved rejects with the reason', async () => {
    const resolve = () => new Promise<Array<{ address: string; family: number }>>(() => undefined); // never answers
    const { ctx, result } = runHook('https://slow-dns.example.test/', { resolve });
    await new Promise((r) => setTimeout(r, 20));
    const reason = new Error('cancelled during DNS');
    ctx.controller.abort(reason);
    // The look-up never answers: only the abort can end the delivery.
    expect(await within(rejectionOf(result), 5_000, 'abort during DNS')).toBe(reason);
  });
});

describe('webhook runtime: private targets and redirects', { timeout: 15_000 }, () => {
  const strict: Partial<WebhookSettings> = { allowPrivate: false, allowedCidrs: ['127.0.0.2/32'] };

  it('refuses a loopback target when private targets are not allowed, without connecting', async () => {
    const server = await serve((_req, res) => json(res, 200, {}));
    for (const url of [
      server.url,
      `http://localhost:${server.port}/`,
      `http://[::ffff:127.0.0.1]:${server.port}/`,
      `http://2130706433:${server.port}/`,
    ]) {
      const err = await rejectionOf(runHook(url, { allowPrivate: false }).result);
      expect(err, url).toBeInstanceOf(RunFailure);
      expect(err, url).toMatchObject({ code: 'webhook_target_forbidden', retryable: false, status: 403 });
      expect((err as RunFailure).detail).toContain('loopback');
    }
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a host that resolves to a private address (resolver answer checked)', async () => {
    const lookups: string[] = [];
    const resolve = async (host: string) => {
      lookups.push(host);
      return [{ address: '10.20.30.40', family: 4 }];
    };
    const err = await rejectionOf(runHook('https://hooks.example.test/x', { allowPrivate: false, resolve }).result);
    expect(err).toMatchObject({ code: 'webhook_target_forbidden' });
    expect((err as RunFailure).detail).toContain('10.20.30.40');
    expect(lookups).toEqual(['hooks.example.test']);
  });

  it('refuses a redirect to 127.0.0.1 when private targets are not allowed', async () => {
    const inner = await serve((_req, res) => json(res, 200, { reached: 'inner' }), '127.0.0.1');
    const outer = await serve((_req, res) => {
      res.writeHead(307, { location: `${inner.url}/admin` });
      res.end();
    }, '127.0.0.2');
    const err = await within(rejectionOf(runHook(outer.url, strict).result), 5000, 'redirect');
    expect(err).toMatchObject({ code: 'webhook_target_forbidden', retryable: false });
    expect((err as RunFailure).detail).toContain('redirect');
    expect(outer.requests).toHaveLength(1);
    expect(inner.requests).toHaveLength(0);
  });

  it('refuses a redirect to a name that resolves to a private address', async () => {
    const outer = await serve((_req, res) => {
      res.writeHead(302, { location: 'http://metadata.internal.test/latest/meta-data/' });
      res.end();
    }, '127.0.0.2');
    const resolve = async () => [{ address: '169.254.169.254', family: 4 }];
    const err = await rejectionOf(runHook(outer.url, { ...strict, resolve }).result);
    expect(err).toMatchObject({ code: 'webhook_target_forbidden' });
    expect((err as RunFailure).detail).toContain('link-local');
  });

  it('follows redirects when private targets are allowed: 307 repeats the POST, 302 becomes a GET', async () => {
    const inner = await serve((req, res, body) => json(res, 200, { method: req.method, got: body.length }), '127.0.0.1');
    const outer307 = await serve((_req, res) => {
      res.writeHead(307, { location: `${inner.url}/final` });
      res.end();
    }, '127.0.0.2');
    const posted = await runHook(outer307.url, { allowPrivate: true }).result;
    expect(posted.output).toMatchObject({ method: 'POST' });
    expect((posted.output as { got: number }).got).toBeGreaterThan(0);
    expect(verifyWebhookSignature(SECRET, String(inner.requests[0]!.headers['gcorp-signature']), inner.requests[0]!.body)).toBe(true);

    const outer302 = await serve((_req, res) => {
      res.writeHead(302, { location: `${inner.url}/final` });
      res.end();
    }, '127.0.0.2');
    expect((await runHook(outer302.url, { allowPrivate: true }).result).output).toEqual({ method: 'GET', got: 0 });
  });

  it('follows a redirect between allowed targets with a relative Location', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/start') {
        res.writeHead(308, { location: '/next' });
        res.end();
      } else json(res, 200, { at: req.url });
    }, '127.0.0.2');
    expect((await runHook(`${server.url}/start`, strict).result).output).toEqual({ at: '/next' });
  });

  it('stops after 3 redirects', async () => {
    const loop = await serve((req, res) => {
      const n = Number(req.url?.slice(1) || 0);
      res.writeHead(307, { location: `/${n + 1}` });
      res.end();
    });
    const err = await rejectionOf(runHook(`${loop.url}/0`).result);
    expect(err).toMatchObject({ code: 'webhook_too_many_redirects' });
    expect(loop.requests).toHaveLength(4);
  });

  it('pins the connection to the checked address (no second DNS look-up)', async () => {
    const server = await serve((req, res) => json(res, 200, { host: req.headers.host }), '127.0.0.2');
    const lookups: string[] = [];
    // The first answer is the one checked and used; a rebinding resolver would answer 127.0.0.1 afterwards.
    const resolve = async (host: string) => {
      lookups.push(host);
      return [{ address: lookups.length === 1 ? '127.0.0.2' : '127.0.0.1', family: 4 }];
    };
    const url = `http://hooks.example.test:${server.port}/x`;
    const out = await within(runHook(url, { ...strict, resolve }).result, 5000, 'pinned delivery');
    expect(out.output).toEqual({ host: `hooks.example.test:${server.port}` });
    expect(lookups).toEqual(['hooks.example.test']);
  });
});
