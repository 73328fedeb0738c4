// The real OS keychain on Linux: a private D-Bus session (dbus-run-session) with gnome-keyring's Secret Service
// unlocked in it. login stores the credential there (and not in a file), whoami reads it back, logout deletes it.
// Needs the Debian packages dbus, dbus-x11 and gnome-keyring (.ci/run installs them).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cliEnv, tempDir } from './helpers/cli.js';
import { TEST_KEY, startMockHub, type MockHub } from './helpers/mock-hub.js';

const keytarPath = createRequire(import.meta.url).resolve('@napi-rs/keyring/keytar.js');
let hub: MockHub;

beforeAll(async () => {
  hub = await startMockHub();
});
afterAll(() => hub.close());

/** Runs a shell script inside a fresh D-Bus session with an unlocked keyring; resolves to its exit code and output. */
function inKeyringSession(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'dbus-run-session',
      ['--', 'sh', '-c', `echo -n test-keyring-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || exit 90\n${script}`],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (err) => reject(new Error(`dbus-run-session could not start (install dbus and gnome-keyring): ${err.message}`)));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the OS keychain (gnome-keyring over D-Bus)', () => {
  it('login stores the credential in the keychain, whoami uses it, logout deletes it', async () => {
    const home = tempDir('gcorp-keyring-home-');
    const config = join(home.dir, 'config');
    const out = join(home.dir, 'out');
    try {
      const { mkdirSync } = await import('node:fs');
      mkdirSync(out);
      writeFileSync(join(out, 'key'), TEST_KEY);
      const env = cliEnv(config, { HOME: home.dir, XDG_DATA_HOME: join(home.dir, 'data'), XDG_RUNTIME_DIR: undefined });
      const node = `"${process.execPath}"`;
      const gcorp = `${node} "${BIN}"`;
      const peek = `${node} -e "require('${keytarPath}').getPassword('gcorp','default').then((v) => console.log(v === null ? 'absent' : v))"`;
      const script = [
        `${gcorp} login --with-token --server ${hub.url} --json < "${out}/key" > "${out}/login.json" 2> "${out}/login.err"; echo $? > "${out}/login.code"`,
        `${peek} > "${out}/peek1" 2>&1`,
        `${gcorp} whoami --json > "${out}/whoami.json" 2> "${out}/whoami.err"; echo $? > "${out}/whoami.code"`,
        `${gcorp} logout --json > "${out}/logout.json" 2> "${out}/logout.err"; echo $? > "${out}/logout.code"`,
        `${peek} > "${out}/peek2" 2>&1`,
      ].join('\n');
      const session = await inKeyringSession(script, env);
      expect(session.code, session.output).toBe(0);
      const read = (name: string) => readFileSync(join(out, name), 'utf8');

      expect(read('login.code').trim(), read('login.err')).toBe('0');
      expect(read('login.err')).toBe(''); // no fallback warning: the keychain answered
      expect(JSON.parse(read('login.json'))).toMatchObject({ credential: { kind: 'api_key', source: 'keychain' } });
      expect(JSON.parse(read('peek1').trim())).toEqual({ kind: 'api_key', key: TEST_KEY });
      expect(existsSync(join(config, 'credentials.json'))).toBe(false);
      expect(readFileSync(join(config, 'config.json'), 'utf8')).not.toContain(TEST_KEY);

      expect(read('whoami.code').trim(), read('whoami.err')).toBe('0');
      expect(JSON.parse(read('whoami.json'))).toMatchObject({
        credential: { source: 'keychain', location: 'the OS keychain (service "gcorp", account "default")' },
      });

      expect(read('logout.code').trim(), read('logout.err')).toBe('0');
      expect(read('peek2').trim()).toBe('absent');
    } finally {
      home.cleanup();
    }
  });
});
