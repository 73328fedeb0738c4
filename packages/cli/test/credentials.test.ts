// Where settings and secrets come from: flags, then GCORP_* variables, then the stored profile, in that order; the
// keychain when one answers, the 0600 file otherwise (a keychain that never answers is given up on, not waited for).
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLI_DIR, Cli, json } from './helpers/cli.js';
import { TEST_KEY, startMockHub, type MockHub } from './helpers/mock-hub.js';

let hubA: MockHub;
let hubB: MockHub;
let cli: Cli;

beforeAll(async () => {
  [hubA, hubB] = await Promise.all([startMockHub(), startMockHub()]);
});
afterAll(async () => {
  await Promise.all([hubA.close(), hubB.close()]);
});
beforeEach(() => {
  hubA.requests.length = 0;
  hubB.requests.length = 0;
  cli = new Cli();
});
afterEach(() => cli.cleanup());

async function loginTo(hub: MockHub, key: string, profile?: string): Promise<void> {
  const args = ['login', '--with-token', '--insecure-storage', '--server', hub.url, ...(profile ? ['--profile', profile] : [])];
  const r = await cli.run(args, { input: key });
  expect(r.code, r.stderr).toBe(0);
}

const authOf = (hub: MockHub) => hub.requestsTo('GET', '/v1/me').at(-1)?.headers.get('authorization');

describe('resolution order: flags > env > stored profile', () => {
  it('the stored profile gives the server and the credential', async () => {
    await loginTo(hubA, 'gc_live_stored_a');
    hubA.requests.length = 0;
    const r = json(await cli.run(['whoami', '--json']));
    expect(r).toMatchObject({ server: hubA.url, server_source: 'profile', profile: 'default', credential: { kind: 'api_key', source: 'file' } });
    expect(authOf(hubA)).toBe('Bearer gc_live_stored_a');
  });

  it('GCORP_API_KEY wins over the stored credential', async () => {
    await loginTo(hubA, 'gc_live_stored_a');
    const r = json(await cli.run(['whoami', '--json'], { env: { GCORP_API_KEY: 'gc_live_from_env' } }));
    expect(r).toMatchObject({ credential: { source: 'env' }, profile: null });
    expect(authOf(hubA)).toBe('Bearer gc_live_from_env');
  });

  it('--server wins over GCORP_SERVER_URL, which wins over the profile; a stored credential never goes to another server', async () => {
    await loginTo(hubA, 'gc_live_stored_a');
    const env = await cli.run(['whoami'], { env: { GCORP_SERVER_URL: hubB.url } });
    expect(env.code).toBe(3);
    expect(env.stderr).toContain(`Profile "default" is logged in to ${hubA.url}, not to ${hubB.url} (from GCORP_SERVER_URL).`);
    expect(hubB.requests).toHaveLength(0);
    const flag = await cli.run(['whoami', '--json', '--server', hubA.url], { env: { GCORP_SERVER_URL: hubB.url } });
    expect(flag.code).toBe(0);
    expect(json(flag)).toMatchObject({ server: hubA.url, server_source: 'flag' });
  });

  it('--profile wins over GCORP_PROFILE, which wins over the current profile', async () => {
    await loginTo(hubA, 'gc_live_a', 'alpha');
    await loginTo(hubB, 'gc_live_b', 'beta'); // beta is now the current profile
    expect(json(await cli.run(['whoami', '--json']))).toMatchObject({ profile: 'beta', server: hubB.url });
    expect(json(await cli.run(['whoami', '--json'], { env: { GCORP_PROFILE: 'alpha' } }))).toMatchObject({ profile: 'alpha', server: hubA.url });
    expect(json(await cli.run(['whoami', '--json', '--profile', 'beta'], { env: { GCORP_PROFILE: 'alpha' } }))).toMatchObject({ profile: 'beta' });
    expect(authOf(hubB)).toBe('Bearer gc_live_b');
    const bad = await cli.run(['whoami', '--profile', '../etc']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--profile: "../etc" is not a profile name');
  });

  it('logout of one profile leaves the others', async () => {
    await loginTo(hubA, 'gc_live_a', 'alpha');
    await loginTo(hubB, 'gc_live_b', 'beta');
    expect((await cli.run(['logout', '--profile', 'alpha'])).code).toBe(0);
    const stored = JSON.parse(readFileSync(join(cli.configDir, 'credentials.json'), 'utf8'));
    expect(Object.keys(stored.profiles)).toEqual(['beta']);
    expect((await cli.run(['whoami', '--profile', 'alpha'])).code).toBe(3);
    expect((await cli.run(['whoami', '--profile', 'beta'])).code).toBe(0);
  });
});

describe('a login session', () => {
  it('is refreshed before its access token expires, and the rotated tokens are stored', async () => {
    const r = await cli.run(['login', '--server', hubA.url]);
    expect(r.code, r.stderr).toBe(0);
    const file = join(cli.configDir, 'credentials.json');
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    stored.profiles.default.expires_at = new Date(Date.now() + 10_000).toISOString();
    stored.profiles.default.refresh_token = 'gcr_old_refresh_token';
    writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
    hubA.requests.length = 0;
    expect((await cli.run(['whoami'])).code).toBe(0);
    const refresh = new URLSearchParams(hubA.requestsTo('POST', '/v1/auth/token')[0]!.body);
    expect(Object.fromEntries(refresh)).toEqual({ grant_type: 'refresh_token', refresh_token: 'gcr_old_refresh_token', client_id: 'gcorp-cli' });
    const after = JSON.parse(readFileSync(file, 'utf8')).profiles.default;
    expect(after.refresh_token).toBe('gcr_Vb8nQ2xK7mP4sL9tR3wZ6yH1cJ5dF0gA2eU8iO4q');
    expect(Date.parse(after.expires_at)).toBeGreaterThan(Date.now() + 800_000);
    // The next command does not refresh again.
    hubA.requests.length = 0;
    expect((await cli.run(['whoami'])).code).toBe(0);
    expect(hubA.requestsTo('POST', '/v1/auth/token')).toHaveLength(0);
  });

  it('whose refresh token is refused exits 3 and says to log in again', async () => {
    const refusing = await startMockHub({
      exchangeToken: async ({ request }) => {
        const body = await (request as Request).clone().text();
        return new URLSearchParams(body).get('grant_type') === 'refresh_token'
          ? Response.json({ error: 'invalid_grant', error_description: 'The refresh token was revoked.' }, { status: 400 })
          : Response.json({ access_token: 'a', token_type: 'Bearer', expires_in: 900, refresh_token: 'gcr_x' });
      },
      createDeviceCode: async ({ exampleResponse }) => Response.json({ ...((await exampleResponse().json()) as object), interval: 1 }),
    });
    try {
      expect((await cli.run(['login', '--server', refusing.url])).code).toBe(0);
      const file = join(cli.configDir, 'credentials.json');
      const stored = JSON.parse(readFileSync(file, 'utf8'));
      stored.profiles.default.expires_at = new Date(Date.now() - 1000).toISOString();
      writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
      const r = await cli.run(['whoami']);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('The login of profile "default" has ended (The refresh token was revoked.)');
      expect(r.stderr).toContain('gcorp login');
    } finally {
      await refusing.close();
    }
  });
});

describe('without a keychain', () => {
  it('falls back to credentials.json (0600) with a warning shown once', async () => {
    const first = await cli.run(['login', '--with-token', '--server', hubA.url], { input: TEST_KEY });
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/no D-Bus session[^)]*\(DBUS_SESSION_BUS_ADDRESS is unset\)/);
    expect(statSync(join(cli.configDir, 'credentials.json')).mode & 0o777).toBe(0o600);
    const second = await cli.run(['login', '--with-token', '--server', hubA.url, '--profile', 'other'], { input: TEST_KEY });
    expect(second.stderr).not.toContain('warning');
  });

  it('gives up on a keychain that does not answer, by its timeout, instead of hanging', async () => {
    // A D-Bus "session bus" that accepts connections and never says a word.
    const dir = join(cli.configDir, 'bus');
    mkdirSync(dir);
    const path = join(dir, 'silent.sock');
    const sockets: Socket[] = [];
    const server: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const r = await cli.run(['login', '--with-token', '--server', hubA.url, '--json'], {
        input: TEST_KEY,
        env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${path}`, GCORP_KEYCHAIN_TIMEOUT_MS: '1500' },
      });
      // A hang would be killed by cli.run after 25 s and fail the exit-code check; the message names the keychain timeout.
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/no OS keychain is reachable \((the keychain did not answer within 1\.5 s|the keychain refused)/);
      expect(json(r)).toMatchObject({ credential: { source: 'file' } });
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
      rmSync(path, { force: true });
    }
  });

  it('a credential kept in a keychain that is gone exits 3 with what to do', async () => {
    mkdirSync(cli.configDir, { recursive: true });
    writeFileSync(
      join(cli.configDir, 'config.json'),
      JSON.stringify({ current_profile: 'default', profiles: { default: { server: hubA.url, credential: { kind: 'api_key', storage: 'keychain' } } } }),
    );
    const r = await cli.run(['whoami']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/is in the OS keychain, which cannot be used now: .*no D-Bus session/);
    expect(r.stderr).toContain('--insecure-storage');
  });

  it('GCORP_KEYCHAIN=off chooses the file', async () => {
    const r = await cli.run(['login', '--with-token', '--server', hubA.url], { input: TEST_KEY, env: { GCORP_KEYCHAIN: 'off', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('turned off by GCORP_KEYCHAIN');
  });
});

describe('secrets are never flag values', () => {
  it('every flag whose name mentions a key, token, secret or password takes no value (or is not a secret)', () => {
    const manifest = JSON.parse(readFileSync(join(CLI_DIR, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, { flags: Record<string, { type: string }> }>;
    };
    const offenders: string[] = [];
    for (const [id, command] of Object.entries(manifest.commands)) {
      for (const [name, flag] of Object.entries(command.flags)) {
        if (/token|key|secret|password/i.test(name) && flag.type !== 'boolean' && name !== 'idempotency-key') offenders.push(`${id} --${name}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
