// Secrets of the profiles: in the OS keychain when one is reachable, else in credentials.json (mode 0600) beside
// config.json, with a one-time warning; `--insecure-storage` chooses the file outright.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ConfigStore } from './config-store.js';
import { CliError } from './errors.js';
import { ExitCode } from './exit-codes.js';
import { KEYCHAIN_SERVICE, KeychainUnavailableError, keychainDelete, keychainGet, keychainSet, keychainUnavailableReason } from './keychain.js';
import type { Output } from './output.js';
import { configDir } from './paths.js';
import { formatIssues } from './validation.js';

const secretSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('api_key'), key: z.string().min(1) }),
  /** A user's session from the device flow: a 15-minute access token and its single-use refresh token. */
  z.object({
    kind: z.literal('session'),
    access_token: z.string().min(1),
    refresh_token: z.string().min(1),
    expires_at: z.iso.datetime(),
  }),
  /** An access token given to `login --with-token`: no refresh token, so it stops working when it expires. */
  z.object({ kind: z.literal('access_token'), access_token: z.string().min(1) }),
]);

export type Secret = z.infer<typeof secretSchema>;
export type Storage = 'keychain' | 'file';

const fileSchema = z.object({ profiles: z.record(z.string(), secretSchema) });

export function credentialsFile(): string {
  return join(configDir(), 'credentials.json');
}

/** Where a profile's secret is, in words (`whoami` shows it). */
export function describeStorage(storage: Storage, profile: string): string {
  return storage === 'keychain'
    ? `the OS keychain (service "${KEYCHAIN_SERVICE}", account "${profile}")`
    : `${credentialsFile()} (mode 0600, not encrypted)`;
}

function readFileStore(): Record<string, Secret> {
  const file = credentialsFile();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`Cannot read ${file}: ${(err as Error).message}.`, { exitCode: ExitCode.AUTH, code: 'credentials_unreadable', title: 'Credentials unreadable' });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw corruptCredentials(file, `not valid JSON (${(err as Error).message})`);
  }
  const result = fileSchema.safeParse(parsed);
  if (!result.success) throw corruptCredentials(file, formatIssues(result.error.issues));
  return result.data.profiles;
}

function corruptCredentials(file: string, reason: string): CliError {
  return new CliError(`The credentials file ${file} is damaged: ${reason}.`, {
    exitCode: ExitCode.AUTH,
    code: 'credentials_corrupt',
    title: 'Damaged credentials',
    hint: `Delete it and log in again: rm ${file} && gcorp login`,
  });
}

function writeFileStore(profiles: Record<string, Secret>): void {
  const file = credentialsFile();
  mkdirSync(configDir(), { recursive: true, mode: 0o700 });
  if (Object.keys(profiles).length === 0) {
    rmSync(file, { force: true });
    return;
  }
  // Written beside, then renamed: a crash never leaves half a file, and the secret is never readable by others.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ profiles }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

function parseSecret(text: string, where: string): Secret {
  try {
    return secretSchema.parse(JSON.parse(text));
  } catch {
    throw new CliError(`The credential in ${where} is damaged.`, {
      exitCode: ExitCode.AUTH,
      code: 'credentials_corrupt',
      title: 'Damaged credentials',
      hint: 'Log in again with `gcorp login`.',
    });
  }
}

export interface SaveOptions {
  /** `file` for --insecure-storage; `auto` tries the keychain first. */
  prefer: 'auto' | 'file';
  out: Output;
  config: ConfigStore;
}

/** Stores a profile's secret; answers where it went. */
export async function saveSecret(profile: string, secret: Secret, options: SaveOptions): Promise<Storage> {
  const text = JSON.stringify(secret);
  let fallbackReason: string | undefined;
  if (options.prefer === 'auto') {
    try {
      await keychainSet(profile, text);
      // A secret left in the file from an earlier login must not linger there.
      removeFromFile(profile);
      return 'keychain';
    } catch (err) {
      if (!(err instanceof KeychainUnavailableError)) throw err;
      fallbackReason = err.message;
    }
  }
  const profiles = readFileStore();
  profiles[profile] = secret;
  writeFileStore(profiles);
  if (fallbackReason !== undefined && !options.config.noticeShown('file_storage')) {
    options.out.warn(
      `no OS keychain is reachable (${fallbackReason}), so the credential is stored in ${credentialsFile()} ` +
        '(mode 0600, not encrypted). Use --insecure-storage to choose the file outright; this warning is shown once.',
    );
    options.config.markNoticeShown('file_storage');
  }
  return 'file';
}

/** A profile's secret from where `login` put it; a keychain that cannot be reached is an authentication error. */
export async function loadSecret(profile: string, storage: Storage): Promise<Secret | undefined> {
  if (storage === 'file') return readFileStore()[profile];
  let text: string | null;
  try {
    text = await keychainGet(profile);
  } catch (err) {
    if (!(err instanceof KeychainUnavailableError)) throw err;
    throw new CliError(`The credential of profile "${profile}" is in the OS keychain, which cannot be used now: ${err.message}.`, {
      exitCode: ExitCode.AUTH,
      code: 'keychain_unavailable',
      title: 'Keychain unavailable',
      hint: 'Unlock the keychain, or log in again with `gcorp login --insecure-storage` to keep the credential in a file.',
    });
  }
  return text === null ? undefined : parseSecret(text, describeStorage('keychain', profile));
}

/** Replaces a stored secret where it is (token refresh). */
export async function replaceSecret(profile: string, storage: Storage, secret: Secret): Promise<void> {
  if (storage === 'keychain') {
    await keychainSet(profile, JSON.stringify(secret));
    return;
  }
  const profiles = readFileStore();
  profiles[profile] = secret;
  writeFileStore(profiles);
}

function removeFromFile(profile: string): void {
  try {
    const profiles = readFileStore();
    if (!(profile in profiles)) return;
    delete profiles[profile];
    writeFileStore(profiles);
  } catch {
    // A damaged file has nothing usable to remove.
  }
}

/** Deletes a profile's secret from both places; answers whether the keychain could not be reached to check. */
export async function deleteSecret(profile: string): Promise<{ keychainError?: string }> {
  removeFromFile(profile);
  if (keychainUnavailableReason() !== undefined) return {};
  try {
    await keychainDelete(profile);
    return {};
  } catch (err) {
    const message = (err as Error).message;
    // Deleting what is not there is not a failure.
    if (/no (matching )?entry|not found|NoEntry/i.test(message)) return {};
    return { keychainError: message };
  }
}
