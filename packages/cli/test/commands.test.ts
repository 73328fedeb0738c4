// Every command, run as users run it (a child process), against the hub as openapi.yaml describes it (msw handlers
// from the spec on loopback): what it sends, what it prints in both modes, and its exit code.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Cli, json, jsonLines } from './helpers/cli.js';
import { KEY_ID, RUN_ID, TEST_KEY, problem, spec, startMockHub, type MockHub } from './helpers/mock-hub.js';
import { exampleResponse, listOperations } from '@genericcorp/contract';

let hub: MockHub;
let cli: Cli;

const example = (operationId: string, accept?: string) => {
  const operation = listOperations(spec).find((o) => o.operationId === operationId)!;
  return exampleResponse(spec, operation, accept ? { accept } : {}).body as Record<string, unknown>;
};

beforeAll(async () => {
  hub = await startMockHub({
    // The device code comes back at once, polled every second.
    createDeviceCode: async ({ exampleResponse: ex }) =>
      Response.json({ ...((await ex().json()) as object), interval: 1 }, { headers: { 'x-request-id': 'req_dc' } }),
  });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(() => {
  hub.requests.length = 0;
  cli = new Cli({ GCORP_SERVER_URL: hub.url, GCORP_API_KEY: TEST_KEY });
});
afterEach(() => cli.cleanup());

describe('whoami', () => {
  it('shows the hub, user, tenant, scopes and where the credential comes from', async () => {
    const r = await cli.run(['whoami']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Logged in to ${hub.url} as ada@acme.example (owner)`);
    expect(r.stdout).toMatch(/tenant\s+Acme \(ten_01jdz3k7m8q9r2s4t6v8w0x2y4\) · plan business/);
    expect(r.stdout).toMatch(/credential\s+API key, from the GCORP_API_KEY environment variable/);
    expect(hub.requestsTo('GET', '/v1/me')[0]!.headers.get('authorization')).toBe(`Bearer ${TEST_KEY}`);
  });

  it('prints only JSON with --json', async () => {
    const r = await cli.run(['whoami', '--json']);
    expect(r.code).toBe(0);
    const body = json(r);
    expect(body).toMatchObject({ server: hub.url, server_source: 'env', credential: { kind: 'api_key', source: 'env' }, kind: 'user', plan: 'business' });
    expect(r.stderr).toBe('');
  });
});

describe('login', () => {
  it('--with-token reads a key from stdin, checks it and stores it (file without a keychain, 0600, warned once)', async () => {
    const fresh = new Cli({ GCORP_SERVER_URL: hub.url });
    try {
      const r = await fresh.run(['login', '--with-token'], { input: `${TEST_KEY}\n` });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('✓ Logged in to');
      expect(r.stderr).toMatch(/warning: no OS keychain is reachable .*credentials\.json/);
      const file = join(fresh.configDir, 'credentials.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ profiles: { default: { kind: 'api_key', key: TEST_KEY } } });
      // The config file has the profile but never the secret.
      const config = readFileSync(join(fresh.configDir, 'config.json'), 'utf8');
      expect(config).not.toContain(TEST_KEY);
      expect(JSON.parse(config)).toMatchObject({ current_profile: 'default', profiles: { default: { server: hub.url, credential: { kind: 'api_key', storage: 'file' } } } });

      const again = await fresh.run(['login', '--with-token', '--json'], { input: TEST_KEY });
      expect(again.code).toBe(0);
      expect(again.stderr).toBe(''); // the warning was shown once
      expect(json(again)).toMatchObject({ profile: 'default', credential: { kind: 'api_key', source: 'file' } });

      const who = await fresh.run(['whoami', '--json'], { env: { GCORP_SERVER_URL: undefined } });
      expect(json(who)).toMatchObject({ server: hub.url, server_source: 'profile', profile: 'default', credential: { source: 'file' } });
    } finally {
      fresh.cleanup();
    }
  });

  it('--insecure-storage chooses the file without a warning', async () => {
    const fresh = new Cli({ GCORP_SERVER_URL: hub.url });
    try {
      const r = await fresh.run(['login', '--with-token', '--insecure-storage'], { input: TEST_KEY });
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('credentials.json');
    } finally {
      fresh.cleanup();
    }
  });

  it('runs the device flow: prints the code and URL, polls, and stores the session', async () => {
    const fresh = new Cli({ GCORP_SERVER_URL: hub.url });
    try {
      const r = await fresh.run(['login', '--json']);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('First copy your one-time code: WDJB-MJHT');
      expect(r.stderr).toContain('/device?user_code=WDJB-MJHT');
      expect(json(r)).toMatchObject({ credential: { kind: 'session', source: 'file' }, user: { email: 'ada@acme.example' } });
      const code = hub.requestsTo('POST', '/v1/auth/device/code')[0]!;
      expect(new URLSearchParams(code.body).get('client_id')).toBe('gcorp-cli');
      const poll = new URLSearchParams(hub.requestsTo('POST', '/v1/auth/token')[0]!.body);
      expect(poll.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:device_code');
      const stored = JSON.parse(readFileSync(join(fresh.configDir, 'credentials.json'), 'utf8')).profiles.default;
      expect(stored).toMatchObject({ kind: 'session', refresh_token: 'gcr_Vb8nQ2xK7mP4sL9tR3wZ6yH1cJ5dF0gA2eU8iO4q' });
      expect(Date.parse(stored.expires_at)).toBeGreaterThan(Date.now() + 800_000);
    } finally {
      fresh.cleanup();
    }
  });

  it('refuses --with-token when stdin is empty', async () => {
    const r = await cli.run(['login', '--with-token'], { input: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('standard input was empty');
  });
});

describe('logout', () => {
  it('revokes the session on the hub, then deletes the credential', async () => {
    const fresh = new Cli({ GCORP_SERVER_URL: hub.url });
    try {
      expect((await fresh.run(['login'])).code).toBe(0);
      const r = await fresh.run(['logout']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('The session was ended on the hub.');
      expect(hub.requestsTo('POST', '/v1/auth/logout')).toHaveLength(1);
      expect(JSON.parse(readFileSync(join(fresh.configDir, 'config.json'), 'utf8')).profiles.default.credential).toBeUndefined();
      const who = await fresh.run(['whoami']);
      expect(who.code).toBe(3);
      expect(who.stderr).toContain('Not logged in');
    } finally {
      fresh.cleanup();
    }
  });

  it('says there is nothing to do when not logged in', async () => {
    const fresh = new Cli({ GCORP_SERVER_URL: hub.url });
    try {
      const r = await fresh.run(['logout', '--json']);
      expect(r.code).toBe(0);
      expect(json(r)).toMatchObject({ logged_out: false });
    } finally {
      fresh.cleanup();
    }
  });
});

describe('keys', () => {
  it('create sends name, scopes and expiry, and prints the secret alone on stdout', async () => {
    const r = await cli.run(['keys', 'create', '--name', 'ci', '--scope', 'runs:read,runs:write', '--expires', '30d']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${example('createApiKey').key}\n`);
    expect(r.stderr).toContain('Copy the key now');
    const body = JSON.parse(hub.requestsTo('POST', '/v1/api-keys')[0]!.body);
    expect(body).toMatchObject({ name: 'ci', scopes: ['runs:read', 'runs:write'] });
    expect(Math.abs(Date.parse(body.expires_at) - (Date.now() + 30 * 86_400_000))).toBeLessThan(60_000);
  });

  it('create --json prints the key object', async () => {
    const r = await cli.run(['keys', 'create', '--name', 'ci', '--scope', 'runs:read', '--json']);
    expect(json(r)).toMatchObject({ id: expect.stringMatching(/^key_/), key: expect.stringMatching(/^gc_live_/) });
  });

  it('create refuses an unknown scope and a past expiry, naming the flag', async () => {
    const scope = await cli.run(['keys', 'create', '--name', 'ci', '--scope', 'runs:everything']);
    expect(scope.code).toBe(2);
    expect(scope.stderr).toMatch(/--scope/);
    const past = await cli.run(['keys', 'create', '--name', 'ci', '--scope', 'runs:read', '--expires', '2020-01-01']);
    expect(past.code).toBe(2);
    expect(past.stderr).toContain('--expires: 2020-01-01T00:00:00.000Z is not in the future');
  });

  it('list prints a table, and JSON with --json', async () => {
    const r = await cli.run(['keys', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+PREFIX\s+SCOPES\s+STATE\s+LAST USED\s+EXPIRES$/);
    const body = json(await cli.run(['keys', 'list', '--json', '--limit', '5']));
    expect(Array.isArray(body.data)).toBe(true);
    expect(hub.requestsTo('GET', '/v1/api-keys').at(-1)!.query.get('limit')).toBe('5');
  });

  it('revoke needs --yes when stdin is not a terminal, and revokes with it', async () => {
    const refused = await cli.run(['keys', 'revoke', KEY_ID]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Pass --yes');
    expect(hub.requestsTo('DELETE', `/v1/api-keys/${KEY_ID}`)).toHaveLength(0);
    const r = await cli.run(['keys', 'revoke', KEY_ID, '--yes']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Revoked API key');
    expect(hub.requestsTo('DELETE', `/v1/api-keys/${KEY_ID}`)).toHaveLength(1);
  });

  it('rotate prints the new secret once', async () => {
    const r = await cli.run(['keys', 'rotate', KEY_ID, '--yes']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^gc_live_/);
    expect(hub.requestsTo('POST', `/v1/api-keys/${KEY_ID}/rotate`)).toHaveLength(1);
  });
});

describe('agents', () => {
  it('list and get', async () => {
    const list = await cli.run(['agents', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^NAME\s+KIND\s+RUNTIME\s+DESCRIPTION/);
    const get = await cli.run(['agents', 'get', 'echo']);
    expect(get.code).toBe(0);
    expect(get.stdout).toContain('Input schema:');
    expect(hub.requestsTo('GET', '/v1/agents/echo')).toHaveLength(1);
    const all = json(await cli.run(['agents', 'list', '--all', '--json']));
    expect(all.next_cursor).toBeNull();
  });
});

describe('run', () => {
  it('starts a run and prints its id without waiting', async () => {
    const r = await cli.run(['run', 'echo', '--input', '{"message":"hi"}', '--metadata', 'source=ci', '--timeout', '90s']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${RUN_ID}\n`);
    const create = hub.requestsTo('POST', '/v1/runs')[0]!;
    expect(JSON.parse(create.body)).toEqual({ agent: 'echo', input: { message: 'hi' }, metadata: { source: 'ci' }, timeout_seconds: 90 });
    expect(create.headers.get('idempotency-key')).toBeTruthy();
  });

  it('--wait prints the output and exits 0 when the run succeeds; --json prints the run', async () => {
    const r = await cli.run(['run', 'echo', '--input', '{"message":"hi"}', '--wait', '--idempotency-key', 'job-42']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ message: 'hi' });
    expect(r.stderr).toContain('succeeded');
    expect(hub.requestsTo('POST', '/v1/runs')[0]!.headers.get('idempotency-key')).toBe('job-42');
    const j = await cli.run(['run', 'echo', '--wait', '--json']);
    expect(j.code).toBe(0);
    expect(json(j)).toMatchObject({ id: RUN_ID, status: 'succeeded' });
  });

  it('reads the input from a file and from stdin', async () => {
    const file = join(cli.configDir, 'in.json');
    writeFileSync(file, '{"diff": "--- a\\n+++ b"}');
    await cli.run(['run', 'echo', '--input', `@${file}`]);
    expect(JSON.parse(hub.requests.at(-1)!.body).input).toEqual({ diff: '--- a\n+++ b' });
    await cli.run(['run', 'echo', '--input', '-'], { input: '[1,2,3]' });
    expect(JSON.parse(hub.requests.at(-1)!.body).input).toEqual([1, 2, 3]);
  });

  it('exits 1 when the run failed and 124 when it timed out, the same with --json', async () => {
    for (const [status, code] of [
      ['failed', 1],
      ['cancelled', 1],
      ['timed_out', 124],
    ] as const) {
      const mock = await startMockHub({
        waitRun: async ({ exampleResponse: ex }) =>
          Response.json({
            ...((await ex().json()) as object),
            status,
            output: null,
            error: { type: 'https://docs.genericcorp.dev/problems/agent_failed', title: 'Agent failed', status: 500, detail: 'boom', code: 'agent_failed', request_id: 'req_1' },
          }),
      });
      try {
        const env = { GCORP_SERVER_URL: mock.url };
        const human = await cli.run(['run', 'echo', '--wait'], { env });
        expect(human.code).toBe(code);
        expect(human.stderr).toContain(status === 'timed_out' ? 'timed out' : status);
        const machine = await cli.run(['run', 'echo', '--wait', '--json'], { env });
        expect(machine.code).toBe(code);
        expect(json(machine)).toMatchObject({ status });
      } finally {
        await mock.close();
      }
    }
  });

  it('--follow streams the output, and --json gives one event per line then the run', async () => {
    const r = await cli.run(['run', 'echo', '--follow']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ message: 'hi' });
    expect(r.stderr).toContain('started (attempt 1)');
    const j = await cli.run(['run', 'echo', '--follow', '--json']);
    expect(j.code).toBe(0);
    const lines = jsonLines(j);
    expect(lines.slice(0, -1).map((l) => l.type)).toEqual(['run.queued', 'run.started', 'run.output.delta', 'run.completed']);
    expect(lines.at(-1)).toMatchObject({ id: RUN_ID, status: 'succeeded' });
    expect(hub.requestsTo('GET', `/v1/runs/${RUN_ID}/events`).at(-1)!.headers.get('accept')).toBe('text/event-stream');
  });

  it('refuses input that is not JSON, naming the line and column', async () => {
    const r = await cli.run(['run', 'echo', '--input', '{"a": 1,\n "b": }']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--input is not valid JSON: .*line 2, column \d+/);
    expect(hub.requestsTo('POST', '/v1/runs')).toHaveLength(0);
  });
});

describe('runs', () => {
  it('list passes the filters and paging, and prints a table', async () => {
    const r = await cli.run(['runs', 'list', '--status', 'failed', '--agent', 'code-reviewer', '--since', '2025-11-01', '--until', '24h', '--limit', '10']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+AGENT\s+STATUS\s+CREATED\s+DURATION/);
    expect(r.stdout).toContain('code-reviewer');
    const q = hub.requestsTo('GET', '/v1/runs')[0]!.query;
    expect(q.get('status')).toBe('failed');
    expect(q.get('agent')).toBe('code-reviewer');
    expect(q.get('created_after')).toBe('2025-11-01T00:00:00.000Z');
    expect(Math.abs(Date.parse(q.get('created_before')!) - (Date.now() - 86_400_000))).toBeLessThan(60_000);
    expect(q.get('limit')).toBe('10');
  });

  it('get shows a run; --json prints it', async () => {
    const r = await cli.run(['runs', 'get', RUN_ID]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(RUN_ID);
    expect(r.stdout).toContain('Input:');
    expect(json(await cli.run(['runs', 'get', RUN_ID, '--json']))).toMatchObject({ id: RUN_ID });
  });

  it('logs lists the events; --follow streams them and exits with the run\'s code; --json is JSON lines', async () => {
    const list = await cli.run(['runs', 'logs', RUN_ID]);
    expect(list.code).toBe(0);
    // The spec's example page holds the last two events.
    expect(list.stdout).toMatch(/output\.delta\s+\{"message":"hi"\}\n.*completed\s+completed: succeeded/);
    const follow = await cli.run(['runs', 'logs', RUN_ID, '--follow', '--json']);
    expect(follow.code).toBe(0);
    expect(jsonLines(follow).map((e) => e.type)).toEqual(['run.queued', 'run.started', 'run.output.delta', 'run.completed']);
    const after = await cli.run(['runs', 'logs', RUN_ID, '--follow', '--after', '2']);
    expect(hub.requestsTo('GET', `/v1/runs/${RUN_ID}/events`).at(-1)!.headers.get('last-event-id')).toBe('2');
    expect(after.code).toBe(0);
  });

  it('wait prints the output and exits with the run\'s code', async () => {
    const r = await cli.run(['runs', 'wait', RUN_ID, '--json']);
    expect(r.code).toBe(0);
    expect(json(r)).toMatchObject({ status: 'succeeded' });
  });

  it('cancel', async () => {
    const r = await cli.run(['runs', 'cancel', RUN_ID]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('cancelled');
    expect(hub.requestsTo('POST', `/v1/runs/${RUN_ID}/cancel`)).toHaveLength(1);
  });

  it('cancel of a finished run exits 1 with the problem', async () => {
    const mock = await startMockHub({ cancelRun: () => problem(409, 'run_finished', 'Run finished', 'The run has already finished (succeeded).') });
    try {
      const r = await cli.run(['runs', 'cancel', RUN_ID], { env: { GCORP_SERVER_URL: mock.url } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('Run finished: The run has already finished (succeeded). (request req_test_123)');
    } finally {
      await mock.close();
    }
  });
});

describe('usage', () => {
  it('shows the quotas and a per-day chart as wide as asked', async () => {
    const r = await cli.run(['usage', '--from', '2025-11-22', '--to', '2025-11-24', '--by', 'agent'], { env: { COLUMNS: '100' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Plan pro');
    expect(r.stdout).toMatch(/runs this period\s+1,234 \/ 10,000/);
    expect(r.stdout).toMatch(/requests per minute\s+14 \/ unlimited/);
    const rows = r.stdout.split('\n').filter((l) => /^2025-11-2[23] /.test(l));
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.length).toBeLessThanOrEqual(100);
    expect(rows[0]).toMatch(/█{10,}.* 12$/); // 12 runs of code-reviewer on the 22nd: the longest bar
    expect(r.stdout).toContain('█ code-reviewer  ▓ echo');
    const q = hub.requestsTo('GET', '/v1/usage')[0]!.query;
    expect(q.get('group_by')).toBe('agent');
    expect(q.get('granularity')).toBe('day');
    expect(q.get('from')).toBe('2025-11-22T00:00:00.000Z');
    expect(q.get('to')).toBe('2025-11-24T00:00:00.000Z');
  });

  it('--csv prints the buckets; --json prints summary and usage', async () => {
    const csv = await cli.run(['usage', '--csv', '--by', 'key']);
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\n').slice(0, 2)).toEqual(['date,group,runs,input_tokens,output_tokens,run_seconds', '2025-11-22,code-reviewer,12,48210,9630,311.4']);
    expect(hub.requestsTo('GET', '/v1/usage')[0]!.query.get('group_by')).toBe('api_key');
    const j = json(await cli.run(['usage', '--json']));
    expect(j).toMatchObject({ summary: { plan: 'pro' }, usage: { granularity: 'day' } });
  });
});

describe('api', () => {
  it('sends any request with the credential and prints the body', async () => {
    const r = await cli.run(['api', 'GET', '/v1/runs', '-f', 'status=failed', '-F', 'limit=5']);
    expect(r.code).toBe(0);
    expect(json(r)).toHaveProperty('data');
    const req = hub.requestsTo('GET', '/v1/runs')[0]!;
    expect(req.query.get('status')).toBe('failed');
    expect(req.query.get('limit')).toBe('5');
    expect(req.headers.get('authorization')).toBe(`Bearer ${TEST_KEY}`);
  });

  it('sends fields as a JSON body on POST, and shows status and headers with -i', async () => {
    const r = await cli.run(['api', 'POST', '/v1/runs', '-f', 'agent=echo', '-F', 'timeout_seconds=60', '-i']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^HTTP 201\n/);
    expect(r.stdout).toMatch(/x-request-id: /);
    expect(JSON.parse(hub.requestsTo('POST', '/v1/runs')[0]!.body)).toEqual({ agent: 'echo', timeout_seconds: 60 });
  });

  it('prints the problem of an error status on stdout and exits with its code', async () => {
    const mock = await startMockHub({ getRun: () => problem(404, 'run_not_found', 'Run not found', 'No run run_x in this tenant.') });
    try {
      const r = await cli.run(['api', 'GET', '/v1/runs/run_x'], { env: { GCORP_SERVER_URL: mock.url } });
      expect(r.code).toBe(4);
      expect(json(r)).toMatchObject({ code: 'run_not_found', status: 404 });
      expect(r.stderr).toContain('Run not found: No run run_x in this tenant.');
    } finally {
      await mock.close();
    }
  });

  it('--paginate follows next_cursor', async () => {
    const mock = await startMockHub({
      listApiKeys: ({ request }) => {
        const cursor = new URL(request.url).searchParams.get('cursor');
        return Response.json(cursor ? { data: [{ n: 2 }], next_cursor: null } : { data: [{ n: 1 }], next_cursor: 'page2' });
      },
    });
    try {
      const r = await cli.run(['api', 'GET', '/v1/api-keys', '--paginate'], { env: { GCORP_SERVER_URL: mock.url } });
      expect(json(r)).toEqual({ data: [{ n: 1 }, { n: 2 }], next_cursor: null });
    } finally {
      await mock.close();
    }
  });
});

describe('self-host bootstrap', () => {
  it('sends the token from stdin, prints the key once and logs in with it', async () => {
    const fresh = new Cli({ GCORP_SERVER_URL: hub.url, GCORP_ADMIN_PASSWORD: 'correct horse battery staple' });
    try {
      const r = await fresh.run(['self-host', 'bootstrap', '--token-stdin', '--email', 'ada@acme.example', '--tenant', 'Acme'], {
        input: 'gcb_4kQ9zV2mX7pL1sR8tK3wZ6yN0bH5cJ2d\n',
      });
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(example('bootstrap').api_key && (example('bootstrap').api_key as { key: string }).key);
      expect(JSON.parse(hub.requestsTo('POST', '/v1/bootstrap')[0]!.body)).toEqual({
        bootstrap_token: 'gcb_4kQ9zV2mX7pL1sR8tK3wZ6yN0bH5cJ2d',
        admin_email: 'ada@acme.example',
        admin_password: 'correct horse battery staple',
        tenant_name: 'Acme',
      });
      expect(JSON.parse(readFileSync(join(fresh.configDir, 'config.json'), 'utf8')).profiles.default.credential).toEqual({ kind: 'api_key', storage: 'file' });
    } finally {
      fresh.cleanup();
    }
  });

  it('generates the admin password when none is given and there is no terminal, and reads an --env-file', async () => {
    const envFile = join(cli.configDir, 'deployment.env');
    writeFileSync(envFile, '# secrets\nGCORP_BOOTSTRAP_TOKEN="from-env-file-0123456789"\n');
    const r = await cli.run(['self-host', 'bootstrap', '--env-file', envFile, '--email', 'a@b.example', '--tenant', 'T', '--no-login', '--json']);
    expect(r.code).toBe(0);
    const body = json(r);
    expect(typeof body.admin_password).toBe('string');
    const sent = JSON.parse(hub.requestsTo('POST', '/v1/bootstrap')[0]!.body);
    expect(sent.bootstrap_token).toBe('from-env-file-0123456789');
    expect(sent.admin_password).toBe(body.admin_password);
  });

  it('exits 1 with a hint when the hub is already bootstrapped', async () => {
    const mock = await startMockHub({ bootstrap: () => problem(409, 'already_bootstrapped', 'Already bootstrapped', 'This instance is already bootstrapped.') });
    try {
      const r = await cli.run(['self-host', 'bootstrap', '--email', 'a@b.example', '--tenant', 'T'], {
        env: { GCORP_SERVER_URL: mock.url, GCORP_BOOTSTRAP_TOKEN: 'x'.repeat(20) },
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('already bootstrapped');
      expect(r.stderr).toContain('gcorp login');
    } finally {
      await mock.close();
    }
  });
});
