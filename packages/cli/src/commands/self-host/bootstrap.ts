// gcorp self-host bootstrap: on a fresh hub, creates the instance admin, the first tenant and an all-scopes API key
// (POST /v1/bootstrap with the one-time bootstrap token), then logs in with that key.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../base-command.js';
import { CliError, usageError } from '../../lib/errors.js';
import { serverDataDir } from '../../lib/paths.js';
import type { RememberedLogin } from '../../lib/session-store.js';
import { readDotenv } from './common.js';

export default class SelfHostBootstrap extends BaseCommand<typeof SelfHostBootstrap> {
  static override summary = 'Create the first tenant, its admin and an API key on a fresh hub.';
  static override description = `Needs the hub's one-time bootstrap token, taken from the first of: standard input with --token-stdin; the .env file given by --env-file; GCORP_BOOTSTRAP_TOKEN; ./.env (as \`gcorp self-host init\` writes it); the file bootstrap-token in the hub's data directory (--data-dir, GCORP_DATA_DIR, or the default of \`gcorp server start\`); else it is asked for on a terminal.

The admin's password comes from GCORP_ADMIN_PASSWORD, else is asked on a terminal, else is generated and printed once; --email and --tenant are asked for on a terminal when missing. The API key (every scope, instance:admin included) is printed once and stored as the profile's credential, unless --no-login. A hub that is already bootstrapped answers with exit 1.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> --email ada@acme.example --tenant Acme',
    '<%= config.bin %> <%= command.id %> --server http://localhost:4100 --env-file gcorp-hub/.env --email ada@acme.example --tenant Acme',
    {
      description: 'Unattended, the token on stdin:',
      command: 'printf %s "$TOKEN" | GCORP_ADMIN_PASSWORD=… <%= config.bin %> <%= command.id %> --token-stdin --email ada@acme.example --tenant Acme --json',
    },
  ];
  static override flags = {
    email: Flags.string({ description: 'Email of the instance admin (also the first tenant\'s owner); asked for on a terminal.' }),
    tenant: Flags.string({ description: 'Name of the first tenant; asked for on a terminal.' }),
    'token-stdin': Flags.boolean({ description: 'Read the bootstrap token from standard input.' }),
    'env-file': Flags.string({ description: 'A .env file holding GCORP_BOOTSTRAP_TOKEN.' }),
    'data-dir': Flags.string({ description: 'The hub\'s data directory, holding the bootstrap-token file. Env: GCORP_DATA_DIR.' }),
    login: Flags.boolean({ description: 'Store the new API key as this profile\'s credential.', default: true, allowNo: true }),
    'insecure-storage': Flags.boolean({ description: 'Keep the key in credentials.json (mode 0600) instead of the OS keychain.' }),
  };

  async run(): Promise<void> {
    const token = await this.bootstrapToken();
    const email = this.flags.email ?? (await this.ask('Admin email:', '--email'));
    const tenant = this.flags.tenant ?? (await this.ask('Name of the first tenant:', '--tenant'));
    const { password, generated } = await this.adminPassword(email);
    const ctx = await this.context();
    const gc = await ctx.client({ auth: 'none' });
    let provisioned;
    try {
      provisioned = await gc.bootstrap.create({ bootstrap_token: token, admin_email: email, admin_password: password, tenant_name: tenant });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'already_bootstrapped') {
        throw new CliError('This hub is already bootstrapped: its first tenant and admin exist.', {
          code: 'already_bootstrapped',
          title: 'Already bootstrapped',
          hint: 'Log in instead: gcorp login',
        });
      }
      throw err;
    }
    let saved: RememberedLogin | undefined;
    if (this.flags.login) {
      const key = provisioned.api_key.key;
      const me = await gc.withOptions({ apiKey: key }).me.get();
      const { rememberLogin } = await import('../../lib/session-store.js');
      saved = await rememberLogin(ctx, { kind: 'api_key', key }, me, this.flags['insecure-storage'] ? 'file' : 'auto');
    }
    if (this.out.json) {
      this.out.printJson({ ...provisioned, ...(generated ? { admin_password: password } : {}), profile: saved?.profile ?? null });
      return;
    }
    const s = this.out.err;
    this.out.info(`${s.green('✓')} Bootstrapped ${(await ctx.server()).value}: tenant ${s.bold(provisioned.tenant.name)} (${provisioned.tenant.id}), admin ${provisioned.user.email}.`);
    if (generated) {
      this.out.info('Admin password (generated, shown once):');
      this.out.print(password);
    }
    this.out.info(`API key ${provisioned.api_key.name} (${provisioned.api_key.id}), every scope (shown once):`);
    this.out.print(provisioned.api_key.key);
    if (saved) this.out.info(s.dim(`Logged in as this key (profile ${saved.profile}); it is stored in ${saved.location}.`));
  }

  private async bootstrapToken(): Promise<string> {
    const check = (token: string, where: string) => {
      const t = token.trim();
      if (t.length < 16) throw usageError(`The bootstrap token from ${where} is too short (the hub's tokens have at least 16 characters).`);
      return t;
    };
    if (this.flags['token-stdin']) {
      const { readStdin } = await import('../../lib/stdin.js');
      return check(await readStdin('--token-stdin', '`printf %s "$TOKEN" | gcorp self-host bootstrap --token-stdin …`'), 'standard input');
    }
    if (this.flags['env-file']) {
      const file = this.flags['env-file'];
      let values: Record<string, string>;
      try {
        values = readDotenv(file);
      } catch (err) {
        throw usageError(`--env-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
      }
      if (!values.GCORP_BOOTSTRAP_TOKEN) throw usageError(`--env-file ${file} has no GCORP_BOOTSTRAP_TOKEN.`);
      return check(values.GCORP_BOOTSTRAP_TOKEN, file);
    }
    if (process.env.GCORP_BOOTSTRAP_TOKEN?.trim()) return check(process.env.GCORP_BOOTSTRAP_TOKEN, 'GCORP_BOOTSTRAP_TOKEN');
    // Run from the folder `gcorp self-host init` wrote, the token is in its .env.
    const localEnv = join(process.cwd(), '.env');
    if (existsSync(localEnv)) {
      const fromLocal = (() => {
        try {
          return readDotenv(localEnv).GCORP_BOOTSTRAP_TOKEN;
        } catch {
          return undefined;
        }
      })();
      if (fromLocal) return check(fromLocal, localEnv);
    }
    const file = join(this.flags['data-dir'] ?? serverDataDir(), 'bootstrap-token');
    if (existsSync(file)) {
      try {
        return check(readFileSync(file, 'utf8'), file);
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw usageError(`Cannot read ${file}: ${(err as Error).message}.`, 'Run as the user that runs the hub, or give the token another way.');
      }
    }
    if (process.stdin.isTTY && process.stderr.isTTY) {
      const { askSecret } = await import('../../lib/prompt.js');
      return check(await askSecret(this.out, 'Bootstrap token:', '--token-stdin'), 'the terminal');
    }
    throw usageError(
      `No bootstrap token: none on stdin (--token-stdin), in --env-file, GCORP_BOOTSTRAP_TOKEN or ./.env, and no ${file}.`,
      'The hub printed it at its first start; `gcorp self-host init` put it in .env.',
    );
  }

  /** A value asked for on a terminal; without one, the flag is required. */
  private async ask(question: string, flag: string): Promise<string> {
    if (!process.stdin.isTTY || !process.stderr.isTTY) throw usageError(`${flag} is required when standard input is not a terminal.`);
    const { askLine } = await import('../../lib/prompt.js');
    const answer = (await askLine(this.out, question)).trim();
    if (!answer) throw usageError(`${flag}: an answer is required.`);
    return answer;
  }

  private async adminPassword(email: string): Promise<{ password: string; generated: boolean }> {
    const fromEnv = process.env.GCORP_ADMIN_PASSWORD;
    if (fromEnv) return { password: fromEnv, generated: false };
    if (process.stdin.isTTY && process.stderr.isTTY && !this.flags['token-stdin']) {
      const { askSecret } = await import('../../lib/prompt.js');
      const first = await askSecret(this.out, `Password for ${email} (at least 12 characters):`, 'Set GCORP_ADMIN_PASSWORD.');
      const second = await askSecret(this.out, 'Again:', 'Set GCORP_ADMIN_PASSWORD.');
      if (first !== second) throw usageError('The passwords differ.');
      return { password: first, generated: false };
    }
    return { password: randomBytes(18).toString('base64url'), generated: true };
  }
}
