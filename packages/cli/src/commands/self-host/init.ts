// gcorp self-host init [DIR]: writes the deployment the templates' manifest.json lists (docker-compose.yml, proxy,
// monitoring, README) and the .env from its template with freshly generated secrets; refuses a non-empty directory
// and never overwrites a .env without --force.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../base-command.js';
import { CliError } from '../../lib/errors.js';
import { generateSecrets, readTemplateManifest, renderEnvTemplate, templatesDir } from './common.js';

export default class SelfHostInit extends BaseCommand<typeof SelfHostInit> {
  static override summary = 'Write a Docker Compose deployment of the hub (postgres, redis, api, worker) with fresh secrets.';
  static override description = `Copies the deployment into DIR (default ./gcorp-hub): docker-compose.yml, the proxy and monitoring configuration and an operator README, and writes DIR/.env (mode 0600) from its template with secrets generated here (GCORP_SECRET_KEY, GCORP_BOOTSTRAP_TOKEN, POSTGRES_PASSWORD, GCORP_DB_APP_PASSWORD and the others the templates name), each 32 random bytes.

Refuses a directory that is not empty, and never replaces an existing .env, unless --force (the old .env is then kept as .env.bak-<time>). Next: cd DIR && docker compose up -d, then \`gcorp self-host bootstrap\` there (it reads the bootstrap token from .env).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> /srv/gcorp',
    '<%= config.bin %> <%= command.id %> . --force',
  ];
  static override args = { dir: Args.string({ description: 'Directory to write (created if missing).', default: 'gcorp-hub' }) };
  static override flags = {
    force: Flags.boolean({ description: 'Write into a non-empty directory, replacing template files and .env (kept as a backup).' }),
  };

  async run(): Promise<void> {
    const source = templatesDir(this.config.root);
    if (!existsSync(source) || !statSync(source).isDirectory()) {
      throw new CliError(`The self-host templates are missing from this installation (${source}).`, {
        code: 'templates_missing',
        title: 'Templates missing',
        hint: 'Reinstall @genericcorp/cli, or point GCORP_SELF_HOST_TEMPLATES at a templates folder.',
      });
    }
    const manifest = readTemplateManifest(source);
    for (const file of [...manifest.files, manifest.env.template]) {
      if (!existsSync(join(source, file))) throw new CliError(`The templates' manifest.json lists ${file}, which is not in ${source}.`, { code: 'templates_invalid', title: 'Templates invalid' });
    }

    const dir = resolve(this.args.dir);
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new CliError(`${dir} exists and is not a directory.`, { code: 'not_a_directory', title: 'Not a directory' });
      const entries = readdirSync(dir);
      if (entries.length > 0 && !this.flags.force) {
        throw new CliError(`${dir} is not empty${entries.includes('.env') ? ' (it has a .env)' : ''}: nothing was written.`, {
          code: 'directory_not_empty',
          title: 'Directory not empty',
          hint: 'Choose a new or empty directory, or pass --force to overwrite the template files (an existing .env is kept as .env.bak-<time>).',
        });
      }
    }
    mkdirSync(dir, { recursive: true });

    const written: string[] = [];
    for (const file of manifest.files) {
      const to = join(dir, file);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(join(source, file), to);
      written.push(file);
    }
    const secretNames = Object.keys(manifest.secrets);
    const secrets = generateSecrets(secretNames);
    const envFile = join(dir, manifest.env.target);
    const backup = this.backUp(envFile);
    const mode = Number.parseInt(manifest.env.mode, 8);
    mkdirSync(dirname(envFile), { recursive: true });
    writeFileSync(envFile, renderEnvTemplate(readFileSync(join(source, manifest.env.template), 'utf8'), secrets), { mode });
    chmodSync(envFile, mode);
    written.push(manifest.env.target);

    if (this.out.json) {
      this.out.printJson({ dir, files: written, env_file: envFile, env_backup: backup ?? null, secrets_generated: secretNames });
      return;
    }
    const c = this.out.out;
    const where = relative(process.cwd(), dir) || '.';
    this.out.print(`${c.green('✓')} Wrote the self-hosted hub to ${c.bold(dir)}:`);
    for (const file of written) this.out.print(`  ${file}${file === manifest.env.target ? c.dim(`  (${secretNames.length} generated secrets, mode ${manifest.env.mode})`) : ''}`);
    if (backup) this.out.print(c.yellow(`  The previous ${manifest.env.target} is kept as ${backup}.`));
    this.out.print();
    this.out.print('Next (see README.md there):');
    this.out.print(`  cd ${where} && docker compose up -d`);
    this.out.print('  gcorp self-host bootstrap --server http://localhost:4100 --email you@example.com --tenant "Your company"');
  }

  /** Moves an existing .env aside (only reached with --force); answers the backup's path. */
  private backUp(file: string): string | undefined {
    if (!existsSync(file)) return undefined;
    const backup = `${file}.bak-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
    renameSync(file, backup);
    return backup;
  }
}
