// What a command runs against: the profile, the hub's URL and the credential, each resolved in one documented order
// (flags, then GCORP_* environment variables, then the stored profile), and the SDK client made from them, with a
// user's access token refreshed before it expires.
import { formatWithOptions } from 'node:util';
import { join } from 'node:path';
import type { Dispatcher, GenericCorp, Logger } from '@genericcorp/sdk';
import type { ConfigStore, Profile } from './config-store.js';
import type { Secret, Storage } from './credentials.js';
import { CliError, authError, usageError } from './errors.js';
import { ExitCode } from './exit-codes.js';
import { withLockFile } from './lock.js';
import type { Output } from './output.js';
import { configDir } from './paths.js';
import { DEFAULT_PROFILE, PROFILE_NAME } from './profile-name.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:4100';
export const CLIENT_ID = 'gcorp-cli';
/** Refresh an access token this long before it expires. */
const REFRESH_MARGIN_MS = 60_000;

export interface GlobalFlags {
  json: boolean;
  debug: boolean;
  profile?: string | undefined;
  server?: string | undefined;
}

export type Source = 'flag' | 'env' | 'profile' | 'default';

export interface Resolved<T> {
  value: T;
  source: Source;
}

export interface CredentialInfo {
  kind: 'api_key' | 'session' | 'access_token';
  source: 'env' | Storage;
  /** Where it lives, in words. */
  location: string;
}

export interface ResolvedCredential {
  info: CredentialInfo;
  secret: Secret;
  /** The profile it is stored under (not for GCORP_API_KEY). */
  profile?: string;
}

export interface ClientOptions {
  /** `required` (default): fail with exit 3 when there is no credential. `none`: send none (login, bootstrap). */
  auth?: 'required' | 'optional' | 'none';
  /** `stored`: the profile's own credential even when GCORP_API_KEY is set (logout). */
  credential?: 'resolved' | 'stored';
}

/** `http(s)://host[:port][/path]` without query, fragment or credentials, normalised without a trailing slash. */
function plainHttpUrl(text: string): string | undefined {
  const value = text.trim();
  if (!/^https?:\/\/[A-Za-z0-9.[\]:-]+(\/[A-Za-z0-9._~/-]*)?$/.test(value)) return undefined;
  try {
    new URL(value);
  } catch {
    return undefined;
  }
  return value.replace(/\/+$/, '');
}

function describeSource(source: Source, flag: string, env: string): string {
  return source === 'flag' ? flag : source === 'env' ? env : source === 'profile' ? 'the stored profile' : 'the default';
}

export class Context {
  readonly out: Output;
  readonly flags: GlobalFlags;
  /** gcorp's version (user agent). */
  readonly version: string;
  #config: Promise<ConfigStore> | undefined;
  #profile: Promise<Resolved<string>> | undefined;
  #server: Promise<Resolved<string>> | undefined;
  #credential: Promise<ResolvedCredential | undefined> | undefined;
  #knownServer: string | undefined;

  constructor(out: Output, flags: GlobalFlags, version: string) {
    this.out = out;
    this.flags = flags;
    this.version = version;
  }

  /** config.json, read on first use only: commands whose settings all come from flags and env never touch it. */
  config(): Promise<ConfigStore> {
    return (this.#config ??= import('./config-store.js').then(({ ConfigStore }) => ConfigStore.open(this.out)));
  }

  /** --profile, GCORP_PROFILE, the current profile of config.json, `default`. */
  profile(): Promise<Resolved<string>> {
    return (this.#profile ??= (async () => {
      const check = (name: string, where: string) => {
        if (!PROFILE_NAME.test(name)) throw usageError(`${where}: "${name}" is not a profile name (letters, digits, ., _ and -).`);
        return name;
      };
      if (this.flags.profile) return { value: check(this.flags.profile, '--profile'), source: 'flag' as const };
      const env = process.env.GCORP_PROFILE?.trim();
      if (env) return { value: check(env, 'GCORP_PROFILE'), source: 'env' as const };
      const current = (await this.config()).currentProfileName;
      return current ? { value: current, source: 'profile' as const } : { value: DEFAULT_PROFILE, source: 'default' as const };
    })());
  }

  async storedProfile(): Promise<Profile | undefined> {
    const [{ value }, config] = await Promise.all([this.profile(), this.config()]);
    return config.profile(value);
  }

  /** The server once `server()` has resolved it (for error messages). */
  get knownServer(): string | undefined {
    return this.#knownServer;
  }

  /** --server, GCORP_SERVER_URL, the profile's server, http://127.0.0.1:4100. */
  server(): Promise<Resolved<string>> {
    return (this.#server ??= this.#resolveServer().then((resolved) => {
      this.#knownServer = resolved.value;
      return resolved;
    }));
  }

  async #resolveServer(): Promise<Resolved<string>> {
    const env = process.env.GCORP_SERVER_URL?.trim();
    if (this.flags.server || env) {
      const [field, given, source] = this.flags.server ? (['--server', this.flags.server, 'flag'] as const) : (['GCORP_SERVER_URL', env!, 'env'] as const);
      // The common case needs no schema library on the start-up path; anything else gets zod's message.
      const plain = plainHttpUrl(given);
      if (plain !== undefined) return { value: plain, source };
      const { parseFlag, serverUrl } = await import('./validation.js');
      return { value: parseFlag(field, serverUrl, given), source };
    }
    const stored = await this.storedProfile();
    if (stored) return { value: stored.server.replace(/\/+$/, ''), source: 'profile' };
    return { value: DEFAULT_SERVER, source: 'default' };
  }

  /**
   * GCORP_API_KEY, else the profile's stored credential when the profile is for this server (a credential is never
   * sent to a server it was not issued by).
   */
  credential(): Promise<ResolvedCredential | undefined> {
    return (this.#credential ??= (async () => {
      const envKey = process.env.GCORP_API_KEY?.trim();
      if (envKey) {
        return {
          info: { kind: 'api_key', source: 'env', location: 'the GCORP_API_KEY environment variable' },
          secret: { kind: 'api_key', key: envKey },
        };
      }
      return this.storedCredential();
    })());
  }

  /** The profile's stored credential (GCORP_API_KEY aside), when the profile is for the resolved server. */
  async storedCredential(): Promise<ResolvedCredential | undefined> {
    const [{ value: profile }, stored, { value: server }] = await Promise.all([this.profile(), this.storedProfile(), this.server()]);
    if (!stored?.credential) return undefined;
    if (stored.server.replace(/\/+$/, '') !== server) return undefined;
    const { describeStorage, loadSecret } = await import('./credentials.js');
    const secret = await loadSecret(profile, stored.credential.storage);
    if (!secret) return undefined;
    return {
      info: { kind: secret.kind, source: stored.credential.storage, location: describeStorage(stored.credential.storage, profile) },
      secret,
      profile,
    };
  }

  /** The error for "no credential", saying which profile and server were looked at and how to fix it. */
  async notLoggedIn(): Promise<CliError> {
    const [{ value: server, source }, { value: profile }] = await Promise.all([this.server(), this.profile()]);
    const stored = await this.storedProfile().catch(() => undefined);
    if (stored?.credential && stored.server.replace(/\/+$/, '') !== server) {
      return authError(
        `Profile "${profile}" is logged in to ${stored.server}, not to ${server} (from ${describeSource(source, '--server', 'GCORP_SERVER_URL')}).`,
        `Run \`gcorp login --server ${server}\`${profile === DEFAULT_PROFILE ? '' : ` --profile ${profile}`}, or drop the other server setting.`,
      );
    }
    const flags = `${server === DEFAULT_SERVER ? '' : ` --server ${server}`}${profile === DEFAULT_PROFILE ? '' : ` --profile ${profile}`}`;
    return authError(`Not logged in to ${server} (profile "${profile}").`, `Run \`gcorp login${flags}\`, or set GCORP_API_KEY.`);
  }

  /** An SDK client for the resolved server and credential. */
  async client(options: ClientOptions = {}): Promise<GenericCorp> {
    const auth = options.auth ?? 'required';
    const [sdk, { value: baseUrl }, credential] = await Promise.all([
      import('./sdk.js'),
      this.server(),
      auth === 'none' ? Promise.resolve(undefined) : options.credential === 'stored' ? this.storedCredential() : this.credential(),
    ]);
    if (auth === 'required' && !credential) throw await this.notLoggedIn();
    const common = {
      baseUrl,
      logger: stderrLogger(),
      logLevel: this.out.debug ? ('debug' as const) : ('warn' as const),
      defaultHeaders: { 'user-agent': `gcorp-cli/${this.version} genericcorp-sdk-node/${sdk.VERSION} node/${process.versions.node}` },
    };
    if (!credential) return new sdk.GenericCorp({ ...common, apiKey: null, accessToken: null });
    const { secret } = credential;
    if (secret.kind === 'api_key') return new sdk.GenericCorp({ ...common, apiKey: secret.key });
    if (secret.kind === 'access_token') return new sdk.GenericCorp({ ...common, apiKey: null, accessToken: secret.access_token });

    // A user's session: refresh now if the access token is about to expire, and keep refreshing it for as long as
    // the command runs (a `--follow` can outlast the token's 15 minutes): every request takes the current token.
    const session = new SessionTokens(this, credential.profile!, credential.info.source as Storage, secret);
    await session.ensureFresh();
    const dispatcher = new sdk.UndiciAgent({ keepAliveTimeout: 30_000, connect: { timeout: 10_000 } }).compose(session.interceptor());
    session.keepFresh();
    return new sdk.GenericCorp({ ...common, apiKey: null, accessToken: session.accessToken, dispatcher });
  }
}

type SessionSecret = Extract<Secret, { kind: 'session' }>;

/** A user's access and refresh tokens, refreshed before expiry under a lock shared by every gcorp process. */
class SessionTokens {
  #ctx: Context;
  #profile: string;
  #storage: Storage;
  #secret: SessionSecret;
  #refreshing: Promise<void> | undefined;

  constructor(ctx: Context, profile: string, storage: Storage, secret: SessionSecret) {
    this.#ctx = ctx;
    this.#profile = profile;
    this.#storage = storage;
    this.#secret = secret;
  }

  get accessToken(): string {
    return this.#secret.access_token;
  }

  #expiresInMs(secret = this.#secret): number {
    return Date.parse(secret.expires_at) - Date.now();
  }

  async ensureFresh(): Promise<void> {
    if (this.#expiresInMs() > REFRESH_MARGIN_MS) return;
    await (this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    }));
  }

  async #refresh(): Promise<void> {
    const lock = join(configDir(), `refresh-${this.#profile}.lock`);
    await withLockFile(lock, async () => {
      // Another gcorp process may have refreshed while this one waited for the lock: its tokens are the live ones.
      const { loadSecret, replaceSecret } = await import('./credentials.js');
      const latest = await loadSecret(this.#profile, this.#storage);
      if (latest?.kind === 'session' && this.#expiresInMs(latest) > REFRESH_MARGIN_MS) {
        this.#secret = latest;
        return;
      }
      const current = latest?.kind === 'session' ? latest : this.#secret;
      const { GenericCorp, OAuthError } = await import('./sdk.js');
      const { value: baseUrl } = await this.#ctx.server();
      const gc = new GenericCorp({ baseUrl, apiKey: null, accessToken: null, logger: stderrLogger(), logLevel: this.#ctx.out.debug ? 'debug' : 'warn' });
      try {
        const tokens = await gc.auth.token({ grant_type: 'refresh_token', refresh_token: current.refresh_token, client_id: CLIENT_ID });
        this.#secret = {
          kind: 'session',
          access_token: tokens.access_token,
          refresh_token: tokens.refresh_token ?? current.refresh_token,
          expires_at: new Date(Date.now() + tokens.expires_in * 1000).toISOString(),
        };
        await replaceSecret(this.#profile, this.#storage, this.#secret);
        this.#ctx.out.debugLog(`refreshed the access token of profile "${this.#profile}"`);
      } catch (err) {
        if (err instanceof OAuthError) {
          throw new CliError(`The login of profile "${this.#profile}" has ended (${err.errorDescription ?? err.error}).`, {
            exitCode: ExitCode.AUTH,
            code: 'session_ended',
            title: 'Session ended',
            hint: 'Run `gcorp login` again.',
            cause: err,
          });
        }
        throw err;
      } finally {
        await gc.close();
      }
    });
  }

  /** Refreshes in the background shortly before each expiry, for long commands; never keeps the process alive. */
  keepFresh(): void {
    const schedule = () => {
      const delay = Math.max(1_000, this.#expiresInMs() - REFRESH_MARGIN_MS);
      setTimeout(() => {
        this.ensureFresh().then(schedule, (err: unknown) => this.#ctx.out.debugLog(`token refresh failed: ${(err as Error).message}`));
      }, delay).unref();
    };
    schedule();
  }

  /** An undici interceptor that puts the current access token on every request (retries and stream reconnects too). */
  interceptor(): Dispatcher.DispatcherComposeInterceptor {
    return (dispatch) => (options, handler) => {
      const authorization = `Bearer ${this.#secret.access_token}`;
      const headers = options.headers;
      let next: Dispatcher.DispatchOptions['headers'];
      if (Array.isArray(headers)) {
        const flat = [...headers] as string[];
        const at = flat.findIndex((v, i) => i % 2 === 0 && String(v).toLowerCase() === 'authorization');
        if (at >= 0) flat[at + 1] = authorization;
        next = flat;
      } else if (headers && typeof headers === 'object' && !(Symbol.iterator in headers)) {
        next = { ...(headers as Record<string, string>), authorization };
      } else {
        next = headers;
      }
      return dispatch({ ...options, headers: next }, handler);
    };
  }
}

/** The SDK's log lines on stderr (never on stdout, which may carry JSON). */
function stderrLogger(): Logger {
  const write = (message: string, rest: unknown[]) => process.stderr.write(`${formatWithOptions({ colors: false, depth: 4 }, message, ...rest)}\n`);
  return {
    error: (message, ...rest) => write(message, rest),
    warn: (message, ...rest) => write(message, rest),
    info: (message, ...rest) => write(message, rest),
    debug: (message, ...rest) => write(message, rest),
  };
}
