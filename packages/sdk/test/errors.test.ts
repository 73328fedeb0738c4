// Typed errors: every status family, problem documents and OAuth errors, and bad input from the network (non-JSON,
// cut or HTML bodies, unknown enum values, wrong base URLs) each give a typed error that says what happened.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  APIConnectionError,
  APIError,
  APIResponseParseError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  GenericCorp,
  GenericCorpError,
  InternalServerError,
  MissingCredentialsError,
  NotFoundError,
  OAuthError,
  PayloadTooLargeError,
  PermissionDeniedError,
  QuotaExceededError,
  RateLimitError,
  UnprocessableEntityError,
  ValidationError,
} from '../src/index.js';
import { contractClient, problem, PROBLEM_HEADERS, RUN_ID, sendExample, startRawServer, TEST_KEY, type RawServer, type TestClient } from './helpers/contract.js';

let server: RawServer | undefined;
let t: TestClient | undefined;

afterEach(async () => {
  t?.recorder.assertContract();
  await t?.close();
  await server?.close();
  t = undefined;
  server = undefined;
});

async function clientFor(handler: Parameters<typeof startRawServer>[0], options: ConstructorParameters<typeof GenericCorp>[0] = {}) {
  server = await startRawServer(handler);
  t = contractClient({ baseUrl: server.url, maxRetries: 0, ...options });
  return t.client;
}

const body = { agent: 'echo', input: { message: 'hi' } };

describe('problem documents become the subclass of their status', () => {
  it.each([
    [400, 'invalid_cursor', BadRequestError],
    [401, 'api_key_revoked', AuthenticationError],
    [402, 'quota_exceeded', QuotaExceededError],
    [403, 'insufficient_scope', PermissionDeniedError],
    [404, 'agent_not_found', NotFoundError],
    [409, 'agent_busy', ConflictError],
    [413, 'payload_too_large', PayloadTooLargeError],
    [422, 'idempotency_key_reused', UnprocessableEntityError],
    [429, 'rate_limited', RateLimitError],
    [500, 'internal_error', InternalServerError],
    [503, 'service_unavailable', InternalServerError],
  ] as const)('%i %s', async (status, code, ErrorClass) => {
    const extraHeaders: Record<string, string> = status === 429 ? { 'retry-after': '7' } : status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {};
    const gc = await clientFor((req, res) => {
      res.writeHead(status, { ...PROBLEM_HEADERS, ...extraHeaders });
      res.end(JSON.stringify(problem(status, code, `It went wrong: ${code}.`)));
    });
    const error = await gc.runs.create(body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error).toBeInstanceOf(APIError);
    const apiError = error as APIError;
    expect(apiError.status).toBe(status);
    expect(apiError.code).toBe(code);
    expect(apiError.requestId).toBe('req_test_1');
    expect(apiError.request_id).toBe('req_test_1');
    expect(apiError.problem).toMatchObject({ code, status, detail: `It went wrong: ${code}.` });
    expect(apiError.headers['x-request-id']).toBe('req_test_1');
    expect(apiError.message).toBe(`${status} ${code}: It went wrong: ${code}. (request req_test_1)`);
    expect(apiError.name).toBe(ErrorClass.name);
    if (error instanceof RateLimitError) expect(error.retryAfter).toBe(7);
  });

  it('400 validation_failed is a ValidationError listing each field', async () => {
    const errors = [
      { field: '/body/agent', message: 'must be a string', code: 'type' },
      { field: '/body/timeout_seconds', message: 'must be <= 3600', code: 'maximum' },
    ];
    const gc = await clientFor((req, res) => {
      res.writeHead(400, PROBLEM_HEADERS);
      res.end(JSON.stringify(problem(400, 'validation_failed', 'The request has 2 invalid fields.', { errors })));
    });
    const error = await gc.runs.create(body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as ValidationError).errors).toEqual(errors);
    expect((error as ValidationError).message).toContain('/body/agent must be a string; /body/timeout_seconds must be <= 3600');
  });

  it('OAuth endpoints answer OAuthError with the RFC 6749 code', async () => {
    const gc = await clientFor((req, res) => {
      const status = req.url === '/v1/auth/token' ? 400 : 401;
      res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_oauth', 'cache-control': 'no-store' });
      res.end(JSON.stringify(status === 400 ? { error: 'invalid_grant', error_description: 'The device code was already used.' } : { error: 'invalid_client' }));
    });
    const grant = await gc.auth.token({ grant_type: 'refresh_token', refresh_token: 'gcr_x', client_id: 'gcorp-cli' }).catch((e: unknown) => e);
    expect(grant).toBeInstanceOf(OAuthError);
    expect(grant).toMatchObject({ status: 400, error: 'invalid_grant', code: 'invalid_grant', errorDescription: 'The device code was already used.', requestId: 'req_oauth' });
    expect((grant as OAuthError).message).toBe('400 invalid_grant: The device code was already used.');
    const client = await gc.auth.device.start({ clientId: 'someone-else' }).catch((e: unknown) => e);
    expect(client).toBeInstanceOf(OAuthError);
    expect(client).toMatchObject({ status: 401, error: 'invalid_client' });
  });

  it('OAuth endpoints still answer problems for rate limits', async () => {
    const gc = await clientFor((req, res) => {
      res.writeHead(429, { ...PROBLEM_HEADERS, 'retry-after': '3' });
      res.end(JSON.stringify(problem(429, 'rate_limited')));
    });
    const error = await gc.auth.token({ grant_type: 'refresh_token', refresh_token: 'gcr_x', client_id: 'gcorp-cli' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfter).toBe(3);
  });
});

describe('bad input gets a clear, typed answer', () => {
  it('a missing API key fails before any request, naming the fix', async () => {
    vi.stubEnv('GCORP_API_KEY', '');
    server = await startRawServer((req, res) => sendExample(req, res));
    const gc = new GenericCorp({ baseUrl: server.url, logLevel: 'off' });
    expect(gc.hasCredential).toBe(false);
    const error = await gc.runs.get(RUN_ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingCredentialsError);
    expect((error as Error).message).toMatch(/runs\.get needs a credential.*apiKey.*GCORP_API_KEY/);
    expect(server.requests).toHaveLength(0);
    // Public operations work without one.
    expect(await gc.health.check()).toEqual({ status: 'ok' });
    await gc.close();
  });

  // The responses below break the contract on purpose (that is the point), so this client does not check them.
  async function uncheckedClient(handler: Parameters<typeof startRawServer>[0], maxRetries = 0) {
    server = await startRawServer(handler);
    return new GenericCorp({ baseUrl: server.url, apiKey: TEST_KEY, maxRetries, logLevel: 'off' });
  }

  it('a 200 that is not JSON', async () => {
    const gc = await uncheckedClient((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('OK');
    });
    const error = await gc.runs.get(RUN_ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIResponseParseError);
    expect((error as APIError).message).toBe('runs.get: expected JSON, got a 200 response with a text/plain body: "OK"');
    expect((error as APIError).status).toBe(200);
    await gc.close();
  });

  it('JSON cut short', async () => {
    const gc = await uncheckedClient((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_cut' });
      res.end('{"id":"run_01jdz7r8s9t0v1w2x3y4z5a6b7","sta');
    });
    const error = await gc.runs.get(RUN_ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIResponseParseError);
    expect((error as APIError).message).toMatch(/^runs\.get: the 200 response is not valid JSON \(cut short\?\): /);
    expect((error as APIError).requestId).toBe('req_cut');
    await gc.close();
  });

  it('a connection dropped in the middle of the body', async () => {
    const gc = await uncheckedClient((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"id":"run_01jdz7r8s9t0v1w2x3y4z5a6b7",');
      setTimeout(() => res.socket?.destroy(), 20);
    }, 1);
    const error = await gc.runs.get(RUN_ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionError);
    expect((error as Error).message).toMatch(/runs\.get: .*(closed before the response was complete|connection error)/);
    expect(server?.requests).toHaveLength(2); // a GET is retried
    await gc.close();
  });

  it('an HTML error page from a proxy', async () => {
    const page = '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>';
    const gc = await uncheckedClient((req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end(page);
    });
    const error = await gc.me.get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    const apiError = error as InternalServerError;
    expect(apiError.status).toBe(502);
    expect(apiError.problem).toBeUndefined();
    expect(apiError.code).toBeUndefined();
    expect(apiError.body).toBe(page);
    expect(apiError.message).toMatch(/^502 status with a text\/html body instead of a problem document \(a proxy or another server may be answering: check baseUrl\): "<html>/);
    await gc.close();
  });

  it('an HTML page with status 200 (a captive portal)', async () => {
    const gc = await uncheckedClient((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<html><body>Sign in to the Wi-Fi</body></html>');
    });
    const error = await gc.me.get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIResponseParseError);
    expect((error as Error).message).toMatch(/expected JSON, got a 200 response with a text\/html body \(a proxy or another server/);
    await gc.close();
  });

  it('an unknown enum value from a newer server is passed through as a string', async () => {
    const gc = await uncheckedClient((req, res) =>
      sendExample(req, res, {
        body: {
          id: RUN_ID, agent: 'echo', status: 'paused', input: null, output: null, error: null, metadata: {}, attempt: 1,
          timeout_seconds: 600, created_at: '2025-11-23T10:15:30Z', started_at: null, finished_at: null,
          usage: { input_tokens: 0, output_tokens: 0, run_seconds: 0 }, region: 'eu-west',
        },
      }),
    );
    const run = await gc.runs.get(RUN_ID);
    const status: string = run.status;
    expect(status).toBe('paused');
    expect((run as Record<string, unknown>).region).toBe('eu-west');
    await gc.close();
  });

  it('a base URL where nothing listens', async () => {
    const port = await freePort();
    const gc = new GenericCorp({ baseUrl: `http://127.0.0.1:${port}`, apiKey: TEST_KEY, maxRetries: 1, logLevel: 'off' });
    const error = await gc.me.get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionError);
    expect((error as Error).message).toBe(
      `me.get: could not connect to http://127.0.0.1:${port} (connection refused): is the hub running there, and is baseUrl right?`,
    );
    expect((error as APIConnectionError).status).toBeUndefined();
    expect((error as Error).cause).toBeDefined();
    await gc.close();
  });

  it('a base URL of another web server', async () => {
    const gc = await uncheckedClient((req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>Not Found</title><h1>Not Found</h1>');
    });
    const error = await gc.me.get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toMatch(/^404 status with a text\/html body instead of a problem document \(a proxy or another server may be answering: check baseUrl\)/);
    await gc.close();
  });

  it('a base URL that is not a URL, or not http', () => {
    expect(() => new GenericCorp({ baseUrl: 'localhost:4100/' })).toThrow(GenericCorpError);
    expect(() => new GenericCorp({ baseUrl: '127.0.0.1:4100' })).toThrow(/absolute http\(s\) URL/);
    expect(() => new GenericCorp({ baseUrl: 'ftp://hub.example' })).toThrow(/must use http or https/);
    expect(() => new GenericCorp({ baseUrl: 'http://hub.example/?x=1' })).toThrow(/query or fragment/);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
