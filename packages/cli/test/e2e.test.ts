// gcorp against the real hub (the server package on a fresh database: CI's PostgreSQL and Redis, or embedded ones):
// bootstrap, a device login approved on the /device page, keys, a followed run, usage, logout that ends the session,
// and `gcorp server start` itself.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../server/test/helpers/db.js';
import { Cli, json, jsonLines } from './helpers/cli.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, BOOTSTRAP_TOKEN, answerDeviceCode, startRealHub, type RealHub } from './helpers/hub.js';

let hub: RealHub;
let cli: Cli;

beforeAll(async () => {
  hub = await startRealHub();
  cli = new Cli({ GCORP_SERVER_URL: hub.url });
}, 120_000);
afterAll(async () => {
  cli?.cleanup();
  await hub?.close();
});

const readCredentials = () => JSON.parse(readFileSync(join(cli.configDir, 'credentials.json'), 'utf8')) as { profiles: Record<string, Record<string, string>> };

describe('a fresh hub, end to end', { timeout: 120_000 }, () => {
  let adminKey: string;

  it('self-host bootstrap creates the tenant, admin and key, and logs in with the key', async () => {
    const r = await cli.run(['self-host', 'bootstrap', '--token-stdin', '--email', ADMIN_EMAIL, '--tenant', 'Acme', '--profile', 'admin', '--json'], {
      input: BOOTSTRAP_TOKEN,
      env: { GCORP_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    expect(r.code, r.stderr).toBe(0);
    const body = json(r) as { api_key: { key: string; scopes: string[] }; tenant: { name: string } };
    expect(body.tenant.name).toBe('Acme');
    expect(body.api_key.scopes).toContain('instance:admin');
    adminKey = body.api_key.key;
    const again = await cli.run(['self-host', 'bootstrap', '--token-stdin', '--email', ADMIN_EMAIL, '--tenant', 'Acme', '--no-login'], {
      input: BOOTSTRAP_TOKEN,
      env: { GCORP_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already bootstrapped');
  });

  it('login: the device flow, approved on the /device page', async () => {
    const login = cli.start(['login', '--profile', 'ada']);
    const [, userCode] = await login.waitFor(/one-time code: (\S+)/);
    const approval = await answerDeviceCode(hub.url, userCode!);
    expect(approval.status, approval.html.slice(0, 300)).toBe(200);
    const result = await login.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Logged in to ${hub.url} as ${ADMIN_EMAIL}`);
    const who = json(await cli.run(['whoami', '--json']));
    expect(who).toMatchObject({ profile: 'ada', kind: 'user', role: 'owner', credential: { kind: 'session', source: 'file' } });
  });

  it('a denied device code ends the login with exit 3', async () => {
    const other = new Cli({ GCORP_SERVER_URL: hub.url });
    try {
      const login = other.start(['login']);
      const [, userCode] = await login.waitFor(/one-time code: (\S+)/);
      await answerDeviceCode(hub.url, userCode!, { action: 'deny' });
      const result = await login.done;
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/access_denied|denied/);
    } finally {
      other.cleanup();
    }
  });

  it('the session is refreshed with the hub when its access token is about to expire', async () => {
    const file = join(cli.configDir, 'credentials.json');
    const before = readCredentials();
    before.profiles.ada!.expires_at = new Date(Date.now() + 5_000).toISOString();
    writeFileSync(file, JSON.stringify(before), { mode: 0o600 });
    const r = await cli.run(['whoami', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const after = readCredentials().profiles.ada!;
    expect(after.refresh_token).not.toBe(before.profiles.ada!.refresh_token);
    expect(after.access_token).not.toBe(before.profiles.ada!.access_token);
  });

  it('keys: create, list, use, revoke (a revoked key is refused: exit 3)', async () => {
    const created = await cli.run(['keys', 'create', '--name', 'ci', '--scope', 'runs:read,runs:write', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const key = json(created) as { id: string; key: string };
    const list = json(await cli.run(['keys', 'list', '--json'])) as { data: { id: string }[] };
    expect(list.data.map((k) => k.id)).toContain(key.id);

    const asKey = await cli.run(['whoami', '--json'], { env: { GCORP_API_KEY: key.key } });
    expect(json(asKey)).toMatchObject({ kind: 'api_key', scopes: ['runs:read', 'runs:write'] });
    const noScope = await cli.run(['keys', 'list'], { env: { GCORP_API_KEY: key.key } });
    expect(noScope.code).toBe(3);

    expect((await cli.run(['keys', 'revoke', key.id, '--yes'])).code).toBe(0);
    let refused = await cli.run(['whoami'], { env: { GCORP_API_KEY: key.key } });
    for (let i = 0; i < 5 && refused.code === 0; i++) refused = await cli.run(['whoami'], { env: { GCORP_API_KEY: key.key } });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/revoked|not a valid API key|Unauthorized/i);
  });

  it('run --follow streams the output and exits 0; a failing run exits 1; --json is events then the run', async () => {
    const follow = await cli.run(['run', 'echo', '--input', '{"message":"hi","events":3,"delay_ms":300}', '--follow']);
    expect(follow.code, follow.stderr).toBe(0);
    expect(follow.stdout).toBe('chunk 1chunk 2chunk 3\n');
    expect(follow.stderr).toMatch(/Run run_\w+ succeeded/);

    const failing = await cli.run(['run', 'echo', '--input', '{"fail":"boom"}', '--follow']);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toContain('boom');

    const lines = jsonLines(await cli.run(['run', 'echo', '--input', '{"events":2}', '--follow', '--json']));
    expect(lines.filter((l) => l.type === 'run.output.delta')).toHaveLength(2);
    expect(lines.at(-2)).toMatchObject({ type: 'run.completed', data: { status: 'succeeded' } });
    expect(lines.at(-1)).toMatchObject({ status: 'succeeded', agent: 'echo' });
  });

  it('runs: wait, logs, list, get', async () => {
    const started = await cli.run(['run', 'echo', '--input', '{"message":"later","delay_ms":500}']);
    expect(started.code).toBe(0);
    const id = started.stdout.trim();
    const waited = await cli.run(['runs', 'wait', id, '--json']);
    expect(waited.code).toBe(0);
    expect(json(waited)).toMatchObject({ id, status: 'succeeded', output: { message: 'later' } });
    const logs = await cli.run(['runs', 'logs', id]);
    expect(logs.stdout).toMatch(/output\.delta\s+\{"message":"later"/);
    expect(logs.stdout).toMatch(/completed\s+completed: succeeded/);
    const list = json(await cli.run(['runs', 'list', '--agent', 'echo', '--status', 'succeeded', '--json'])) as { data: { id: string }[] };
    expect(list.data.map((r) => r.id)).toContain(id);
    expect((await cli.run(['runs', 'get', id])).stdout).toContain('later');
  });

  it('usage: the period summary and the daily buckets count the runs', async () => {
    const r = await cli.run(['usage', '--json', '--by', 'agent', '--days', '2']);
    expect(r.code, r.stderr).toBe(0);
    const body = json(r) as { summary: { usage: { runs: number }; quotas: unknown[] }; usage: { data: { group: string | null; runs: number }[] } };
    expect(body.summary.usage.runs).toBeGreaterThanOrEqual(4);
    expect(body.summary.quotas.length).toBeGreaterThan(0);
    expect(body.usage.data.filter((b) => b.group === 'echo').reduce((n, b) => n + b.runs, 0)).toBeGreaterThanOrEqual(4);
    const human = await cli.run(['usage'], { env: { COLUMNS: '90' } });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/runs this period\s+\d+ \/ /);
    expect(human.stdout).toMatch(/█+ +\d+$/m);
  });

  it('api: any request with the credential in use', async () => {
    const r = await cli.run(['api', 'GET', '/v1/agents/echo']);
    expect(r.code).toBe(0);
    expect(json(r)).toMatchObject({ name: 'echo', kind: 'builtin' });
    const missing = await cli.run(['api', 'GET', '/v1/runs/run_00000000000000000000000000']);
    expect(missing.code).toBe(4);
  });

  it('logout ends the session on the hub: its access token stops working', async () => {
    const { access_token: accessToken } = readCredentials().profiles.ada!;
    const r = await cli.run(['logout']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('The session was ended on the hub.');
    let status = 200;
    for (let i = 0; i < 20 && status === 200; i++) {
      status = (await fetch(`${hub.url}/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(401);
    expect((await cli.run(['whoami'])).code).toBe(3);
    // The admin profile (the bootstrap key) is still there.
    expect(json(await cli.run(['whoami', '--json', '--profile', 'admin']))).toMatchObject({ kind: 'api_key' });
    expect(adminKey).toMatch(/^gc_live_/);
  });
});

describe('gcorp server start', () => {
  it('runs the hub in the foreground: bootstrap token, "listening on", then stops on SIGINT', async () => {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'gcorp-cli-serve-'));
    const server = new Cli({
      DATABASE_URL: database.ownerUrl,
      DATABASE_APP_URL: database.appUrl,
      GCORP_LOG_LEVEL: 'warn',
    });
    try {
      const running = server.start(['server', 'start', '--port', '0', '--data-dir', dataDir], { timeoutMs: 90_000 });
      const [, url] = await running.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
      const stdout = running.stdout();
      expect(stdout.indexOf('bootstrap token (shown once')).toBeGreaterThanOrEqual(0);
      expect(stdout.indexOf('bootstrap token')).toBeLessThan(stdout.indexOf('listening on'));
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const token = readFileSync(join(dataDir, 'bootstrap-token'), 'utf8').trim();
      expect(stdout).toContain(token);
      running.child.kill('SIGINT');
      const result = await running.done;
      expect(result.code, result.stderr).toBe(0);
    } finally {
      server.cleanup();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
