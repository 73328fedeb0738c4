// The OS keychain through the keytar API (@napi-rs/keyring's keytar-compatible module: keytar itself is archived),
// detected up front and timed out, so a missing or locked keychain falls back instead of hanging the CLI.
import { existsSync, readFileSync } from 'node:fs';

export const KEYCHAIN_SERVICE = 'gcorp';

/** The keychain did not answer, refused, or is not there. */
export class KeychainUnavailableError extends Error {
  override name = 'KeychainUnavailableError';
}

function timeoutMs(): number {
  const n = Number.parseInt(process.env.GCORP_KEYCHAIN_TIMEOUT_MS ?? '', 10);
  return Number.isInteger(n) && n > 0 ? n : 2_000;
}

function isWsl(): boolean {
  if (process.env.WSL_DISTRO_NAME || process.env.WSL_INTEROP) return true;
  try {
    return /microsoft/i.test(readFileSync('/proc/version', 'utf8'));
  } catch {
    return false;
  }
}

function isContainer(): boolean {
  return existsSync('/.dockerenv') || existsSync('/run/.containerenv') || process.env.container !== undefined;
}

/**
 * Why no keychain can be reached here, or undefined when one may be. On Linux the keychain is the Secret Service on
 * the D-Bus session bus: without DBUS_SESSION_BUS_ADDRESS (SSH sessions, CI, containers, WSL) there is none.
 * GCORP_KEYCHAIN=off turns it off outright.
 */
export function keychainUnavailableReason(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (['0', 'off', 'false', 'no'].includes((env.GCORP_KEYCHAIN ?? '').toLowerCase())) return 'turned off by GCORP_KEYCHAIN';
  if (process.platform === 'darwin' || process.platform === 'win32') return undefined;
  if (env.DBUS_SESSION_BUS_ADDRESS) return undefined;
  if (isWsl()) return 'WSL has no D-Bus session here (DBUS_SESSION_BUS_ADDRESS is unset)';
  if (isContainer()) return 'this container has no D-Bus session (DBUS_SESSION_BUS_ADDRESS is unset)';
  return 'there is no D-Bus session (DBUS_SESSION_BUS_ADDRESS is unset)';
}

type Operation = { op: 'get'; account: string } | { op: 'set'; account: string; secret: string } | { op: 'delete'; account: string };
type Keytar = typeof import('@napi-rs/keyring/keytar.js');

function perform(keytar: Keytar, operation: Operation): Promise<string | boolean | null | void> {
  if (operation.op === 'get') return keytar.getPassword(KEYCHAIN_SERVICE, operation.account);
  if (operation.op === 'set') return keytar.setPassword(KEYCHAIN_SERVICE, operation.account, operation.secret);
  return keytar.deletePassword(KEYCHAIN_SERVICE, operation.account);
}

/**
 * The keytar call in a child process, killed when it does not answer in time: on Linux the binding talks to D-Bus
 * synchronously on the main thread, so a bus that accepts the connection and then never answers (a stale
 * DBUS_SESSION_BUS_ADDRESS, a hung secret service) would freeze gcorp, and a worker thread stuck there would keep the
 * process from exiting. The secret travels on the child's stdin, never in its arguments.
 */
const CHILD_SCRIPT = `
const keytar = require(process.argv[1]);
let input = '';
process.stdin.setEncoding('utf8').on('data', (d) => (input += d)).on('end', async () => {
  const o = JSON.parse(input);
  try {
    const value = o.op === 'get' ? await keytar.getPassword(o.service, o.account)
      : o.op === 'set' ? await keytar.setPassword(o.service, o.account, o.secret)
      : await keytar.deletePassword(o.service, o.account);
    process.stdout.write(JSON.stringify({ ok: true, value: value === undefined ? null : value }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message || e) }));
  }
});`;

async function inChildProcess(operation: Operation, ms: number): Promise<string | boolean | null> {
  const [{ spawn }, { createRequire }] = await Promise.all([import('node:child_process'), import('node:module')]);
  const keytarPath = createRequire(import.meta.url).resolve('@napi-rs/keyring/keytar.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD_SCRIPT, keytarPath], { stdio: ['pipe', 'pipe', 'ignore'] });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new KeychainUnavailableError(`the keychain did not answer within ${ms / 1000} s (is it locked, or is the D-Bus session stale?)`));
    }, ms);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new KeychainUnavailableError(`the keychain helper could not start (${err.message})`));
    });
    child.on('close', () => {
      clearTimeout(timer);
      try {
        const answer = JSON.parse(output) as { ok: boolean; value?: string | boolean | null; error?: string };
        if (answer.ok) resolve(answer.value ?? null);
        else reject(new Error(answer.error ?? 'unknown error'));
      } catch {
        reject(new KeychainUnavailableError('the keychain helper stopped without an answer'));
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify({ ...operation, service: KEYCHAIN_SERVICE }));
  });
}

/** macOS and Windows keychains answer (or show their unlock prompt) without blocking the event loop. */
async function inProcess(operation: Operation, ms: number): Promise<string | boolean | null> {
  let keytar: Keytar;
  try {
    keytar = await import('@napi-rs/keyring/keytar.js');
  } catch (err) {
    throw new KeychainUnavailableError(`the keychain module could not be loaded (${(err as Error).message})`);
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KeychainUnavailableError(`the keychain did not answer within ${ms / 1000} s (is it locked?)`)), ms);
  });
  try {
    return ((await Promise.race([perform(keytar, operation), timeout])) ?? null) as string | boolean | null;
  } finally {
    clearTimeout(timer);
  }
}

async function withKeychain(what: string, operation: Operation): Promise<string | boolean | null> {
  const reason = keychainUnavailableReason();
  if (reason) throw new KeychainUnavailableError(reason);
  try {
    const run = process.platform === 'darwin' || process.platform === 'win32' ? inProcess : inChildProcess;
    return await run(operation, timeoutMs());
  } catch (err) {
    if (err instanceof KeychainUnavailableError) throw err;
    throw new KeychainUnavailableError(`the keychain refused to ${what} (${(err as Error).message})`);
  }
}

export async function keychainGet(account: string): Promise<string | null> {
  const value = await withKeychain('read the credential', { op: 'get', account });
  return typeof value === 'string' ? value : null;
}

export async function keychainSet(account: string, secret: string): Promise<void> {
  await withKeychain('store the credential', { op: 'set', account, secret });
}

export async function keychainDelete(account: string): Promise<boolean> {
  return (await withKeychain('delete the credential', { op: 'delete', account })) === true;
}
