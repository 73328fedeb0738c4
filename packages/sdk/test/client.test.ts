// The client's options: environment defaults, credentials, headers, user agent, shared connection pools, logging with
// secrets redacted, and the contract recorder the other tests rely on.
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GenericCorp, GenericCorpError, VERSION, type Logger } from '../src/index.js';
import { ContractRecorder, contractClient, RUN_ID, sendExample, startRawServer, TEST_KEY, type RawServer } from './helpers/contract.js';

let server: RawServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function echoServer(): Promise<RawServer> {
  server = await startRawServer((req, res) => sendExample(req, res));
  return server;
}

describe('options', () => {
  it('reads GCORP_API_KEY and GCORP_BASE_URL by default; explicit options win', async () => {
    const { url } = await echoServer();
    vi.stubEnv('GCORP_API_KEY', 'gc_live_from_env');
    vi.stubEnv('GCORP_BASE_URL', `${url}/`);
    const fromEnv = new GenericCorp({ logLevel: 'off' });
    expect(fromEnv.baseUrl).toBe(url);
    await fromEnv.me.get();
    expect(server!.requests[0]?.headers.authorization).toBe('Bearer gc_live_from_env');

    const explicit = new GenericCorp({ apiKey: 'gc_live_explicit', baseUrl: url, logLevel: 'off' });
    await explicit.me.get();
    expect(server!.requests[1]?.headers.authorization).toBe('Bearer gc_live_explicit');

    const none = new GenericCorp({ apiKey: null, logLevel: 'off' });
    expect(none.hasCredential).toBe(false);
    await Promise.all([fromEnv.close(), explicit.close(), none.close()]);
  });

  it('defaults to the local hub, 60 s and 2 retries', () => {
    vi.stubEnv('GCORP_BASE_URL', '');
    const gc = new GenericCorp({ apiKey: 'k' });
    expect(gc.baseUrl).toBe('http://127.0.0.1:4100');
    expect(gc.timeout).toBe(60_000);
    expect(gc.maxRetries).toBe(2);
  });

  it('keeps a path prefix of the base URL', async () => {
    server = await startRawServer((req, res) => {
      req.url = req.url?.replace(/^\/hub/, '');
      sendExample(req, res);
    });
    const gc = new GenericCorp({ apiKey: 'k', baseUrl: `${server.url}/hub/`, logLevel: 'off' });
    expect(gc.baseUrl).toBe(`${server.url}/hub`);
    await gc.runs.get(RUN_ID);
    expect(server.requests[0]?.url).toBe(`/hub/v1/runs/${RUN_ID}`);
    await gc.close();
  });

  it('an access token is sent like a key; both at once is an error', async () => {
    const { url } = await echoServer();
    const gc = new GenericCorp({ accessToken: 'eyJ.token', baseUrl: url, logLevel: 'off' });
    await gc.me.get();
    expect(server!.requests[0]?.headers.authorization).toBe('Bearer eyJ.token');
    expect(() => new GenericCorp({ apiKey: 'a', accessToken: 'b' })).toThrow(/either apiKey or accessToken/);
    await gc.close();
  });

  it('rejects nonsense timeouts and retry counts', () => {
    expect(() => new GenericCorp({ apiKey: 'k', timeout: 0 })).toThrow(GenericCorpError);
    expect(() => new GenericCorp({ apiKey: 'k', timeout: Number.NaN })).toThrow(/positive number of milliseconds/);
    expect(() => new GenericCorp({ apiKey: 'k', maxRetries: -1 })).toThrow(/maxRetries must be an integer >= 0/);
    expect(() => new GenericCorp({ apiKey: 'k', maxRetries: 1.5 })).toThrow(GenericCorpError);
  });

  it('sends a user agent naming the SDK and Node versions, default and per-request headers', async () => {
    const { url } = await echoServer();
    const gc = new GenericCorp({ apiKey: 'k', baseUrl: url, logLevel: 'off', defaultHeaders: { 'X-Team': 'platform', 'X-Trace': 'a' } });
    await gc.me.get({ headers: { 'x-trace': 'b', 'x-team': null } });
    const headers = server!.requests[0]!.headers;
    expect(headers['user-agent']).toBe(`genericcorp-sdk-node/${VERSION} node/${process.versions.node} (${process.platform}; ${process.arch})`);
    expect(headers['x-trace']).toBe('b');
    expect(headers['x-team']).toBeUndefined();
    expect(headers.accept).toBe('application/json');
    await gc.close();
  });

  it('VERSION is the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });

  it('withOptions shares the connection pool and swaps the credential', async () => {
    const { url } = await echoServer();
    const dispatcher = new Agent();
    const requests = vi.spyOn(dispatcher, 'request');
    const gc = new GenericCorp({ apiKey: TEST_KEY, baseUrl: url, logLevel: 'off', dispatcher });
    const asUser = gc.withOptions({ accessToken: 'eyJ.user' });
    await asUser.me.get();
    await gc.me.get();
    expect(requests).toHaveBeenCalledTimes(2);
    expect(server!.requests.map((r) => r.headers.authorization)).toEqual(['Bearer eyJ.user', `Bearer ${TEST_KEY}`]);
    expect(asUser.baseUrl).toBe(gc.baseUrl);
    // A dispatcher passed in is the caller's: close() leaves it open.
    await gc.close();
    expect(dispatcher.closed).toBe(false);
    await dispatcher.close();
  });

  it('close() closes the client\'s own pool', async () => {
    const { url } = await echoServer();
    const gc = new GenericCorp({ apiKey: 'k', baseUrl: url, logLevel: 'off', maxRetries: 0 });
    await gc.me.get();
    await gc.close();
    await expect(gc.me.get()).rejects.toThrow(/closed|destroyed/i);
  });
});

describe('debug logging', () => {
  function capture(): { logger: Logger; lines: string[] } {
    const lines: string[] = [];
    const write = (message: string, ...rest: unknown[]) => void lines.push([message, ...rest.map((r) => JSON.stringify(r))].join(' '));
    return { logger: { debug: write, info: write, warn: write, error: write }, lines };
  }

  it('logs requests and responses with credentials and secrets redacted', async () => {
    const { url } = await echoServer();
    const { logger, lines } = capture();
    const gc = new GenericCorp({ apiKey: TEST_KEY, baseUrl: url, logger, logLevel: 'debug' });
    await gc.bootstrap.create({
      bootstrap_token: 'gcb_secret_bootstrap_token_123',
      admin_email: 'ada@acme.example',
      admin_password: 'correct horse battery staple',
      tenant_name: 'Acme',
    });
    await gc.auth.token({ grant_type: 'refresh_token', refresh_token: 'gcr_secret_refresh', client_id: 'gcorp-cli' });
    await gc.me.get();
    const log = lines.join('\n');
    expect(log).toContain(`→ POST ${url}/v1/bootstrap`);
    expect(log).toMatch(/← 201 POST .*\/v1\/bootstrap in \d+ ms/);
    expect(log).toContain('ada@acme.example');
    expect(log).toContain('key_01jdz3k9n4p6q8r0s2t4v6w8x0'); // ids stay readable
    for (const secret of [TEST_KEY, 'gcb_secret_bootstrap_token_123', 'correct horse battery staple', 'gcr_secret_refresh', 'Q7v2mX9pL4sR8tK1wZ6yN3bH5cJ0dF2g', 'gcr_Vb8nQ2xK7mP4sL9tR3wZ6yH1cJ5dF0gA2eU8iO4q']) {
      expect(log).not.toContain(secret);
    }
    expect(log).toContain('[redacted]');
    await gc.close();
  });

  it('GCORP_LOG sets the level; the default (warn) says nothing about successful calls', async () => {
    const { url } = await echoServer();
    const quiet = capture();
    const gc = new GenericCorp({ apiKey: 'k', baseUrl: url, logger: quiet.logger });
    await gc.me.get();
    expect(quiet.lines).toEqual([]);
    vi.stubEnv('GCORP_LOG', 'debug');
    const loud = capture();
    const debug = new GenericCorp({ apiKey: 'k', baseUrl: url, logger: loud.logger });
    expect(debug.logger.level).toBe('debug');
    await debug.me.get();
    expect(loud.lines.length).toBeGreaterThan(0);
    await Promise.all([gc.close(), debug.close()]);
  });

  it('retries are logged at info level', async () => {
    let calls = 0;
    server = await startRawServer((req, res) => (++calls === 1 ? req.socket.destroy() : sendExample(req, res)));
    const { logger, lines } = capture();
    const gc = new GenericCorp({ apiKey: 'k', baseUrl: server.url, logger, logLevel: 'info' });
    await gc.runs.get(RUN_ID);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[gcorp\] runs\.get failed \(APIConnectionError\); retrying in \d+ ms \(2 retries left\)\.$/);
    await gc.close();
  });
});

describe('the contract recorder used by these tests', () => {
  it('reports responses and stream events that do not match openapi.yaml', async () => {
    server = await startRawServer((req, res) => {
      if (req.url?.endsWith('/events')) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'r1' });
        res.end('id: 1\nevent: run.queued\ndata: {"id":"evt_x","seq":1}\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }); // no X-Request-Id
      res.end(JSON.stringify({ id: 'run_bad' }));
    });
    const t = contractClient({ baseUrl: server.url, maxRetries: 0 });
    await t.client.runs.get(RUN_ID);
    await t.client.runs.stream(RUN_ID, { maxReconnects: 0 })[Symbol.asyncIterator]().next().catch(() => undefined);
    expect(t.recorder).toBeInstanceOf(ContractRecorder);
    expect(t.recorder.violations.join('\n')).toMatch(/header X-Request-Id is required but missing/);
    expect(t.recorder.violations.join('\n')).toMatch(/body must have required property "agent"/);
    expect(t.recorder.violations.join('\n')).toMatch(/event 1 does not match RunEvent/);
    expect(() => t.recorder.assertContract()).toThrow(/responses that do not match openapi\.yaml/);
    await t.close();
  });
});
