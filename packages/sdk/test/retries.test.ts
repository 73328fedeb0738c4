// Faults injected on a loopback server: reset connections, 429 with Retry-After, 503 then success, 409 in flight, a
// server slower than the timeout, aborts. Retries back off, honour Retry-After and reuse one Idempotency-Key.
import { afterEach, describe, expect, it } from 'vitest';
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIUserAbortError,
  BadRequestError,
  ConflictError,
  InternalServerError,
  RateLimitError,
  type GenericCorp,
} from '../src/index.js';
import {
  contractClient,
  problem,
  PROBLEM_HEADERS,
  RUN_ID,
  sendExample,
  startRawServer,
  type Handler,
  type RawServer,
  type TestClient,
} from './helpers/contract.js';

let server: RawServer | undefined;
let t: TestClient | undefined;

afterEach(async () => {
  t?.recorder.assertContract();
  await t?.close();
  await server?.close();
  t = undefined;
  server = undefined;
});

async function clientFor(handler: Handler, options: { maxRetries?: number; timeout?: number } = {}): Promise<GenericCorp> {
  server = await startRawServer(handler);
  t = contractClient({ baseUrl: server.url, ...options });
  return t.client;
}

/** Fails the first `count` requests with `fail`, then answers the spec's example. */
function failing(count: number, fail: Handler): Handler {
  let seen = 0;
  return (req, res, body) => (++seen <= count ? fail(req, res, body) : sendExample(req, res));
}

const reset: Handler = (req) => {
  req.socket.destroy();
};
const runBody = { agent: 'echo', input: { message: 'hi' } };

describe('retries', () => {
  it('a reset connection is retried and the call succeeds', async () => {
    const gc = await clientFor(failing(2, reset));
    const { data, response } = await gc.runs.get(RUN_ID).withResponse();
    expect(data.id).toBe(RUN_ID);
    expect(response.attempts).toBe(3);
    expect(server!.requests).toHaveLength(3);
  });

  it('a POST keeps one Idempotency-Key across its retries, a new one per call', async () => {
    const gc = await clientFor(failing(2, reset));
    await gc.runs.create(runBody);
    await gc.runs.create(runBody);
    const keys = server!.requests.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(4);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys.slice(0, 3)).toEqual([keys[0], keys[0], keys[0]]);
    expect(keys[3]).not.toBe(keys[0]);
    expect(server!.requests.every((r) => r.body === JSON.stringify(runBody))).toBe(true);
  });

  it('the caller can pass the Idempotency-Key (same on every retry)', async () => {
    const gc = await clientFor(failing(1, reset));
    await gc.runs.create(runBody, { idempotencyKey: 'pipeline-1234-attempt-1' });
    expect(server!.requests.map((r) => r.headers['idempotency-key'])).toEqual(['pipeline-1234-attempt-1', 'pipeline-1234-attempt-1']);
  });

  it('GETs carry no Idempotency-Key', async () => {
    const gc = await clientFor((req, res) => sendExample(req, res));
    await gc.runs.get(RUN_ID);
    expect(server!.requests[0]?.headers['idempotency-key']).toBeUndefined();
  });

  it('gives up after maxRetries with the connection error', async () => {
    const gc = await clientFor(reset, { maxRetries: 1 });
    const error = await gc.runs.get(RUN_ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionError);
    expect(server!.requests).toHaveLength(2);
  });

  it('maxRetries 0 per call', async () => {
    const gc = await clientFor(reset);
    await expect(gc.runs.get(RUN_ID, { maxRetries: 0 })).rejects.toBeInstanceOf(APIConnectionError);
    expect(server!.requests).toHaveLength(1);
  });

  it('429 waits for Retry-After, then succeeds', async () => {
    const gc = await clientFor(
      failing(1, (req, res) => {
        res.writeHead(429, { ...PROBLEM_HEADERS, 'retry-after': '1' });
        res.end(JSON.stringify(problem(429, 'rate_limited')));
      }),
    );
    const started = Date.now();
    const { response } = await gc.runs.get(RUN_ID).withResponse();
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(response.attempts).toBe(2);
  });

  it('429 asking for more than 60 s is not retried: the caller gets retryAfter', async () => {
    const gc = await clientFor((req, res) => {
      res.writeHead(429, { ...PROBLEM_HEADERS, 'retry-after': '120' });
      res.end(JSON.stringify(problem(429, 'rate_limited')));
    });
    const error = await gc.runs.get(RUN_ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfter).toBe(120);
    expect(server!.requests).toHaveLength(1);
  });

  it('503 then success, with exponential backoff when there is no Retry-After', async () => {
    const gc = await clientFor(
      failing(2, (req, res) => {
        res.writeHead(503, PROBLEM_HEADERS);
        res.end(JSON.stringify(problem(503, 'service_unavailable')));
      }),
    );
    const started = Date.now();
    await gc.runs.get(RUN_ID);
    // 0.5 s then 1 s, each less up to 25% jitter.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_100);
    expect(server!.requests).toHaveLength(3);
  });

  it('5xx every time ends with InternalServerError after maxRetries', async () => {
    const gc = await clientFor(
      (req, res) => {
        res.writeHead(500, { ...PROBLEM_HEADERS, 'retry-after': '0' });
        res.end(JSON.stringify(problem(500, 'internal_error')));
      },
      { maxRetries: 2 },
    );
    await expect(gc.runs.get(RUN_ID)).rejects.toBeInstanceOf(InternalServerError);
    expect(server!.requests).toHaveLength(3);
  });

  it('408 is retried', async () => {
    const gc = await clientFor(
      failing(1, (req, res) => {
        res.writeHead(408, { ...PROBLEM_HEADERS, 'retry-after': '0' });
        res.end(JSON.stringify(problem(408, 'request_timeout')));
      }),
    );
    await gc.runs.get(RUN_ID);
    expect(server!.requests).toHaveLength(2);
  });

  it('409 idempotency_key_in_use is retried with the same key; other conflicts are not', async () => {
    const gc = await clientFor(
      failing(1, (req, res) => {
        res.writeHead(409, { ...PROBLEM_HEADERS, 'retry-after': '0' });
        res.end(JSON.stringify(problem(409, 'idempotency_key_in_use')));
      }),
    );
    const run = await gc.runs.create(runBody);
    expect(run.id).toBe(RUN_ID);
    const [first, second] = server!.requests;
    expect(second?.headers['idempotency-key']).toBe(first?.headers['idempotency-key']);

    await server!.close();
    await t!.close();
    const other = await clientFor((req, res) => {
      res.writeHead(409, PROBLEM_HEADERS);
      res.end(JSON.stringify(problem(409, 'agent_name_taken')));
    });
    const error = await other.agents.create({ name: 'echo', runtime: 'model', config: { model: 'm' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).code).toBe('agent_name_taken');
    expect(server!.requests).toHaveLength(1);
  });

  it('4xx other than 408, 409 in flight and 429 are not retried', async () => {
    const gc = await clientFor((req, res) => {
      res.writeHead(400, PROBLEM_HEADERS);
      res.end(JSON.stringify(problem(400, 'invalid_cursor')));
    });
    await expect(gc.runs.list({ cursor: 'x' })).rejects.toBeInstanceOf(BadRequestError);
    expect(server!.requests).toHaveLength(1);
  });

  it('501 Not Implemented is not retried: another try cannot help', async () => {
    const gc = await clientFor((req, res) => {
      res.writeHead(501, PROBLEM_HEADERS);
      res.end(JSON.stringify(problem(501, 'not_implemented')));
    });
    const error = await gc.usage.summary().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as InternalServerError).code).toBe('not_implemented');
    expect(server!.requests).toHaveLength(1);
  });

  it('a server slower than the timeout: APIConnectionTimeoutError after each attempt timed out', async () => {
    const gc = await clientFor(() => undefined /* never answers */, { timeout: 200, maxRetries: 1 });
    const started = Date.now();
    const error = await gc.runs.get(RUN_ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionTimeoutError);
    expect((error as Error).message).toBe(`runs.get: no complete response from ${server!.url} within 200 ms.`);
    expect(server!.requests).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 200 + 350);
  });

  it('a per-call timeout wins over the client one', async () => {
    const gc = await clientFor((req, res) => setTimeout(() => sendExample(req, res), 300));
    await expect(gc.runs.get(RUN_ID, { timeout: 100, maxRetries: 0 })).rejects.toBeInstanceOf(APIConnectionTimeoutError);
    await expect(gc.runs.get(RUN_ID, { timeout: 2_000 })).resolves.toMatchObject({ id: RUN_ID });
  });

  it('an AbortSignal stops the request, and stops a backoff wait', async () => {
    const gc = await clientFor(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    // The server never answers and the timeout is the default 60 s: the abort is what ends it (a timeout would be an
    // APIConnectionTimeoutError, after this test's own timeout).
    await expect(gc.runs.get(RUN_ID, { signal: controller.signal })).rejects.toBeInstanceOf(APIUserAbortError);
    expect(server!.requests).toHaveLength(1);

    await server!.close();
    await t!.close();
    const backingOff = await clientFor((req, res) => {
      res.writeHead(503, { ...PROBLEM_HEADERS, 'retry-after': '30' });
      res.end(JSON.stringify(problem(503, 'service_unavailable')));
    });
    const later = new AbortController();
    setTimeout(() => later.abort(), 200);
    await expect(backingOff.runs.get(RUN_ID, { signal: later.signal })).rejects.toBeInstanceOf(APIUserAbortError);
    expect(server!.requests).toHaveLength(1);
    await expect(backingOff.runs.get(RUN_ID, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(APIUserAbortError);
    expect(server!.requests).toHaveLength(1);
  });

  it('the token and refresh endpoints are retried only when the server cannot have acted', async () => {
    const gc = await clientFor(failing(1, reset));
    const params = { grant_type: 'refresh_token', refresh_token: 'gcr_x', client_id: 'gcorp-cli' } as const;
    // A lost response may have used the refresh token up: retrying would trip reuse detection.
    await expect(gc.auth.token(params)).rejects.toBeInstanceOf(APIConnectionError);
    expect(server!.requests).toHaveLength(1);
    // The same for POST /v1/auth/refresh: the hub keeps no Idempotency-Key for unauthenticated operations.
    await server!.close();
    await t!.close();
    const refresh = await clientFor(failing(1, reset));
    await expect(refresh.auth.refresh({ refresh_token: 'gcr_x' })).rejects.toBeInstanceOf(APIConnectionError);
    expect(server!.requests).toHaveLength(1);

    await server!.close();
    await t!.close();
    const limited = await clientFor(
      failing(1, (req, res) => {
        res.writeHead(429, { ...PROBLEM_HEADERS, 'retry-after': '0' });
        res.end(JSON.stringify(problem(429, 'rate_limited')));
      }),
    );
    await expect(limited.auth.token(params)).resolves.toMatchObject({ token_type: 'Bearer' });
    expect(server!.requests).toHaveLength(2);
  });
});
