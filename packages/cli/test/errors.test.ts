// Bad input gets a one-line answer that says what to do, the exit code PRODUCT.md gives it (the same with --json,
// where the problem object is what stdout carries), and a stack trace only with --debug.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Cli, json } from './helpers/cli.js';
import { RUN_ID, TEST_KEY, problem, startMockHub, type MockHub } from './helpers/mock-hub.js';

let hub: MockHub;
let cli: Cli;

beforeAll(async () => {
  hub = await startMockHub({
    getRun: ({ params }) =>
      params.id === 'run_gone' ? problem(404, 'run_not_found', 'Run not found', 'No run run_gone in this tenant.') : problem(500, 'internal', 'Internal Server Error', 'x'),
    getMe: ({ request }) =>
      request.headers.get('authorization') === 'Bearer expired'
        ? problem(401, 'token_expired', 'Unauthorized', 'The access token has expired.')
        : request.headers.get('authorization') === 'Bearer revoked'
          ? problem(401, 'key_revoked', 'Unauthorized', 'This API key was revoked.')
          : problem(403, 'insufficient_scope', 'Forbidden', 'This needs the scope usage:read.'),
    createRun: ({ request }) =>
      request.headers.get('idempotency-key') === 'quota'
        ? problem(402, 'quota_exceeded', 'Quota exceeded', 'This tenant has used all 1000 runs of its free plan for this period.')
        : problem(429, 'rate_limited', 'Too Many Requests', 'Rate limit of 120 requests per minute reached.', { 'retry-after': '120' }),
  });
});
afterAll(() => hub.close());
beforeEach(() => {
  hub.requests.length = 0;
  cli = new Cli({ GCORP_SERVER_URL: hub.url, GCORP_API_KEY: TEST_KEY });
});
afterEach(() => cli.cleanup());

function expectNoStack(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
}

describe('usage errors exit 2', () => {
  it('an unknown command suggests the nearest one', async () => {
    const r = await cli.run(['keyz', 'list']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"keyz list" is not a gcorp command. Did you mean "keys list"?');
    expectNoStack(r.stderr);
    const j = await cli.run(['runs', 'lst', '--json']);
    expect(j.code).toBe(2);
    expect(json(j)).toMatchObject({ code: 'unknown_command', title: 'Unknown command', detail: expect.stringContaining('Did you mean "runs list"?') });
  });

  it('an unknown flag, a missing argument, a bad option value', async () => {
    const flag = await cli.run(['whoami', '--bogus']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--bogus');
    const arg = await cli.run(['runs', 'get']);
    expect(arg.code).toBe(2);
    expect(arg.stderr).toMatch(/Missing 1 required arg/);
    const option = await cli.run(['runs', 'list', '--status', 'exploded', '--json']);
    expect(option.code).toBe(2);
    expect(json(option)).toMatchObject({ code: 'usage_error', detail: expect.stringContaining('--status') });
    expect(hub.requests).toHaveLength(0);
  });

  it('flag values checked by zod name the flag', async () => {
    const timeout = await cli.run(['run', 'echo', '--timeout', '5x']);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain('--timeout: "5x" is not a duration');
    const since = await cli.run(['runs', 'list', '--since', 'yesterday-ish']);
    expect(since.code).toBe(2);
    expect(since.stderr).toContain('--since: "yesterday-ish" is not a time');
    const server = await cli.run(['whoami', '--server', 'ftp://example.com']);
    expect(server.code).toBe(2);
    expect(server.stderr).toContain('--server: must be an http:// or https:// URL');
    const envServer = await cli.run(['whoami'], { env: { GCORP_SERVER_URL: 'not a url' } });
    expect(envServer.code).toBe(2);
    expect(envServer.stderr).toContain('GCORP_SERVER_URL: must be an http:// or https:// URL');
    const metadata = await cli.run(['run', 'echo', '--metadata', 'no-equals-sign']);
    expect(metadata.code).toBe(2);
    expect(metadata.stderr).toContain('--metadata: "no-equals-sign" is not key=value');
  });

  it('an unreadable or invalid input file', async () => {
    const missing = await cli.run(['run', 'echo', '--input', '@/nonexistent/input.json']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--input @/nonexistent/input.json: cannot read the file (no such file)');
    const dir = join(cli.configDir, 'inputs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'bad.json'), '{\n  "message": "hi",\n}\n');
    const invalid = await cli.run(['run', 'echo', '--input', `@${join(dir, 'bad.json')}`, '--json']);
    expect(invalid.code).toBe(2);
    expect(json(invalid).detail).toMatch(/the file .*bad\.json is not valid JSON: .* at line 3, column 1/);
    const directory = await cli.run(['run', 'echo', '--input', `@${dir}`]);
    expect(directory.code).toBe(2);
    expect(directory.stderr).toContain('it is a directory');
    expect(hub.requestsTo('POST', '/v1/runs')).toHaveLength(0);
  });

  it('a hub 400 is a usage error too', async () => {
    const mock = await startMockHub({
      createApiKey: () =>
        new Response(
          JSON.stringify({
            type: 'https://docs.genericcorp.dev/problems/validation_failed',
            title: 'Validation failed',
            status: 400,
            detail: 'The request body is invalid.',
            code: 'validation_failed',
            request_id: 'req_v',
            errors: [{ field: '/body/name', message: 'must NOT have more than 100 characters' }],
          }),
          { status: 400, headers: { 'content-type': 'application/problem+json' } },
        ),
    });
    try {
      const r = await cli.run(['keys', 'create', '--name', 'x', '--scope', 'runs:read'], { env: { GCORP_SERVER_URL: mock.url } });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('Validation failed: The request body is invalid. (request req_v)');
      expect(r.stderr).toContain('/body/name: must NOT have more than 100 characters');
    } finally {
      await mock.close();
    }
  });
});

describe('hub errors map to exit codes, with title, detail and request id', () => {
  it('404 exits 4', async () => {
    const r = await cli.run(['runs', 'get', 'run_gone']);
    expect(r.code).toBe(4);
    expect(r.stderr.split('\n')[0]).toBe('Error: Run not found: No run run_gone in this tenant. (request req_test_123)');
    expectNoStack(r.stderr);
    const j = await cli.run(['runs', 'get', 'run_gone', '--json']);
    expect(j.code).toBe(4);
    expect(json(j)).toEqual({
      type: 'https://docs.genericcorp.dev/problems/run_not_found',
      title: 'Run not found',
      status: 404,
      detail: 'No run run_gone in this tenant.',
      code: 'run_not_found',
      request_id: 'req_test_123',
    });
  });

  it('an expired login or a revoked key exits 3 and says to log in again', async () => {
    const expired = await cli.run(['whoami'], { env: { GCORP_API_KEY: 'expired' } });
    expect(expired.code).toBe(3);
    expect(expired.stderr).toContain('The access token has expired.');
    expect(expired.stderr).toContain('gcorp login');
    const revoked = await cli.run(['whoami', '--json'], { env: { GCORP_API_KEY: 'revoked' } });
    expect(revoked.code).toBe(3);
    expect(json(revoked)).toMatchObject({ code: 'key_revoked', status: 401 });
  });

  it('a missing scope (403) exits 3', async () => {
    const r = await cli.run(['whoami']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('This needs the scope usage:read.');
  });

  it('a quota (402) and the rate limit (429) exit 5', async () => {
    const quota = await cli.run(['run', 'echo', '--idempotency-key', 'quota']);
    expect(quota.code).toBe(5);
    expect(quota.stderr).toContain('Quota exceeded: This tenant has used all 1000 runs');
    expect(quota.stderr).toContain('gcorp usage');
    const limited = await cli.run(['run', 'echo', '--json']);
    expect(limited.code).toBe(5);
    expect(json(limited)).toMatchObject({ code: 'rate_limited', status: 429 });
    expect(limited.stderr).toContain('retry in 120 s');
  });

  it('no credential exits 3 before any request', async () => {
    const r = await cli.run(['runs', 'list'], { env: { GCORP_API_KEY: undefined } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`Not logged in to ${hub.url} (profile "default").`);
    expect(r.stderr).toContain('gcorp login');
    expect(hub.requests).toHaveLength(0);
  });

  it('a hub failure (5xx) exits 1 after the retries, quoting the request id', async () => {
    const r = await cli.run(['runs', 'get', RUN_ID]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('(request req_test_123)');
    expect(r.stderr).toContain('quote the request id');
    expect(hub.requestsTo('GET', `/v1/runs/${RUN_ID}`)).toHaveLength(3);
  });

  it('an unreachable hub exits 1 and says where it looked', async () => {
    const r = await cli.run(['whoami'], { env: { GCORP_SERVER_URL: 'http://127.0.0.1:9' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Could not connect to the hub at http://127.0.0.1:9');
    expect(r.stderr).toContain('--server or GCORP_SERVER_URL');
    expectNoStack(r.stderr);
  });

  it('--debug adds the stack trace and the HTTP exchange, on stderr', async () => {
    const r = await cli.run(['runs', 'get', 'run_gone', '--debug', '--json']);
    expect(r.code).toBe(4);
    expect(json(r)).toMatchObject({ code: 'run_not_found' });
    expect(r.stderr).toMatch(/\n\s+at /);
    expect(r.stderr).toContain('GET');
    expect(r.stderr).not.toContain(TEST_KEY);
  });
});

describe('the config file', () => {
  it('a corrupt file is kept as a backup, and the command goes on with a clean configuration', async () => {
    mkdirSync(cli.configDir, { recursive: true });
    writeFileSync(join(cli.configDir, 'config.json'), '{"profiles": {"default": ');
    const r = await cli.run(['whoami', '--json'], { env: { GCORP_SERVER_URL: undefined } });
    // The command itself fails only because the default hub is not running here; the config was recovered.
    expect(r.stderr).toMatch(/warning: the config file .*config\.json is not valid JSON .*; kept it as .*config\.json\.corrupt-\d{8}T\d{6}Z and started with a clean configuration/);
    const backups = readdirSync(cli.configDir).filter((f) => f.startsWith('config.json.corrupt-'));
    expect(backups).toHaveLength(1);
    expect(readFileSync(join(cli.configDir, backups[0]!), 'utf8')).toBe('{"profiles": {"default": ');
    const second = await cli.run(['whoami', '--json'], { env: { GCORP_SERVER_URL: undefined } });
    expect(second.stderr).not.toContain('warning');
  });

  it('a file that is JSON but not a valid configuration names the bad field', async () => {
    writeFileSync(join(cli.configDir, 'config.json'), JSON.stringify({ profiles: { default: { server: 'not a url' } } }));
    const r = await cli.run(['whoami'], { env: { GCORP_SERVER_URL: undefined } });
    expect(r.stderr).toContain('is not a valid gcorp configuration (profiles.default.server: must be an http:// or https:// URL)');
    expect(readdirSync(cli.configDir).some((f) => f.startsWith('config.json.corrupt-'))).toBe(true);
  });

  it('a damaged credentials file exits 3 and says how to recover', async () => {
    const plain = await startMockHub();
    const fresh = new Cli({ GCORP_SERVER_URL: plain.url });
    try {
      expect((await fresh.run(['login', '--with-token', '--insecure-storage'], { input: TEST_KEY })).code).toBe(0);
      writeFileSync(join(fresh.configDir, 'credentials.json'), 'garbage');
      const r = await fresh.run(['whoami']);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('credentials.json is damaged');
      expect(r.stderr).toContain('gcorp login');
    } finally {
      fresh.cleanup();
      await plain.close();
    }
  });
});

describe('no prompts without a terminal', () => {
  it('a command that would ask fails with the flag to use instead', async () => {
    const r = await cli.run(['keys', 'rotate', 'key_01jdz3k9n4p6q8r0s2t4v6w8x0', '--json']);
    expect(r.code).toBe(2);
    expect(json(r)).toMatchObject({ code: 'usage_error', detail: expect.stringContaining('standard input is not a terminal') });
    expect(r.stderr).toContain('Pass --yes');
  });

});
