// gcorp login: the OAuth device flow (RFC 8628) by default, or a key or token read from stdin with --with-token.
import * as Flags from '@oclif/core/flags';
import type { GenericCorp, Me } from '@genericcorp/sdk';
import { BaseCommand } from '../base-command.js';
import { CLIENT_ID } from '../lib/context.js';
import { usageError } from '../lib/errors.js';
import { RESOLUTION_ORDER } from '../lib/help-text.js';
import type { Secret } from '../lib/credentials.js';
import type { RememberedLogin } from '../lib/session-store.js';

/** Whether a browser can be opened for the person at this terminal. */
function canOpenBrowser(): boolean {
  if (process.env.BROWSER === 'none' || process.env.CI) return false;
  if (!process.stdin.isTTY || !process.stderr.isTTY) return false;
  if (process.platform === 'darwin' || process.platform === 'win32') return !process.env.SSH_CONNECTION;
  return Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

export default class Login extends BaseCommand<typeof Login> {
  static override summary = 'Log in to a hub: in the browser (device flow), or with a key or token from stdin.';
  static override description = `By default, prints a one-time code and a URL, opens the browser when there is one, and waits while you approve the code on the hub's /device page (the OAuth 2.0 device authorization grant, RFC 8628). The session's access token (15 minutes) is refreshed automatically with its refresh token.

With --with-token, reads an API key (gc_live_…), an access token or a refresh token (gcr_…) from standard input.

The credential goes to the OS keychain; without a reachable keychain (no D-Bus session, containers, WSL) to credentials.json (mode 0600) with a one-time warning, or there outright with --insecure-storage. The profile becomes the current one.

${RESOLUTION_ORDER}`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --server https://hub.example.com --profile work',
    {
      description: 'With an API key (never as a flag: it would show in the process list):',
      command: 'printf %s "$GCORP_KEY" | <%= config.bin %> <%= command.id %> --with-token',
    },
    '<%= config.bin %> <%= command.id %> --with-token --insecure-storage < key.txt',
  ];
  static override flags = {
    'with-token': Flags.boolean({ description: 'Read an API key, access token or refresh token from standard input.' }),
    'insecure-storage': Flags.boolean({ description: 'Keep the credential in credentials.json (mode 0600, not encrypted) instead of the OS keychain.' }),
    browser: Flags.boolean({ description: 'Open the approval page in a browser when there is one.', default: true, allowNo: true }),
  };

  async run(): Promise<void> {
    const ctx = await this.context();
    const gc = await ctx.client({ auth: 'none' });
    const { secret, client } = this.flags['with-token'] ? await this.fromStdin(gc) : await this.deviceFlow(gc);
    const me = await client.me.get();
    const { rememberLogin } = await import('../lib/session-store.js');
    const saved = await rememberLogin(ctx, secret, me, this.flags['insecure-storage'] ? 'file' : 'auto');
    this.report(saved, secret, me);
  }

  private async fromStdin(gc: GenericCorp): Promise<{ secret: Secret; client: GenericCorp }> {
    const { readStdin } = await import('../lib/stdin.js');
    const text = (await readStdin('--with-token', '`gcorp login --with-token < key.txt`')).trim();
    if (text === '') throw usageError('--with-token: standard input was empty: expected an API key or token.');
    if (/\s/.test(text)) throw usageError('--with-token: expected one key or token on standard input, found several words.');
    if (text.startsWith('gc_')) return { secret: { kind: 'api_key', key: text }, client: gc.withOptions({ apiKey: text }) };
    if (text.startsWith('gcr_')) {
      const tokens = await gc.auth.token({ grant_type: 'refresh_token', refresh_token: text, client_id: CLIENT_ID });
      return { secret: sessionOf(tokens), client: gc.withOptions({ accessToken: tokens.access_token }) };
    }
    return { secret: { kind: 'access_token', access_token: text }, client: gc.withOptions({ accessToken: text }) };
  }

  private async deviceFlow(gc: GenericCorp): Promise<{ secret: Secret; client: GenericCorp }> {
    const authorization = await gc.auth.device.start({ clientId: CLIENT_ID });
    const s = this.out.err;
    this.out.status(`First copy your one-time code: ${s.bold(authorization.user_code)}`);
    this.out.status(`Then approve it at ${s.cyan(authorization.verification_uri_complete)}`);
    if (this.flags.browser && canOpenBrowser()) {
      try {
        const { default: open } = await import('open');
        await open(authorization.verification_uri_complete);
        this.out.status(s.dim('(opened in your browser)'));
      } catch {
        // No browser after all: the URL is printed above.
      }
    }
    const { startProgress } = await import('../lib/progress.js');
    const progress = await startProgress(this.out, 'Waiting for approval…');
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once('SIGINT', onSigint);
    try {
      const tokens = await gc.auth.device.poll(authorization, {
        signal: controller.signal,
        onPending: ({ expiresAt, slowDown, interval }) => {
          const left = Math.max(0, Math.round((expiresAt.getTime() - Date.now()) / 1000));
          progress.update(`Waiting for approval… (code expires in ${Math.floor(left / 60)}m${String(left % 60).padStart(2, '0')}s${slowDown ? `, polling every ${interval}s` : ''})`);
        },
      });
      return { secret: sessionOf(tokens), client: gc.withOptions({ accessToken: tokens.access_token }) };
    } finally {
      progress.stop();
      process.off('SIGINT', onSigint);
    }
  }

  private report(saved: RememberedLogin, secret: Secret, me: Me): void {
    if (this.out.json) {
      this.out.printJson({
        server: saved.server,
        profile: saved.profile,
        credential: { kind: secret.kind, source: saved.storage, location: saved.location },
        ...me,
      });
      return;
    }
    const c = this.out.out;
    this.out.print(`${c.green('✓')} Logged in to ${c.cyan(saved.server)} as ${c.bold(saved.principal)} (tenant ${me.tenant.name}, profile ${saved.profile}).`);
    this.out.print(c.dim(`  Credential stored in ${saved.location}.`));
  }
}

function sessionOf(tokens: { access_token: string; refresh_token?: string | null; expires_in: number }): Secret {
  if (!tokens.refresh_token) return { kind: 'access_token', access_token: tokens.access_token };
  return {
    kind: 'session',
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_at: new Date(Date.now() + tokens.expires_in * 1000).toISOString(),
  };
}
