// gcorp self-host init: the files the templates' manifest.json lists, copied; .env rendered from its template with
// fresh secrets (mode 0600); a non-empty directory refused and an existing .env never replaced without --force.
// Run against the real templates (templates/self-host) and against a small fixture in the same format.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI_DIR, Cli, json, tempDir } from './helpers/cli.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'self-host-templates');
const REAL = join(CLI_DIR, 'templates', 'self-host');
let cli: Cli;
let work: { dir: string; cleanup(): void };

beforeEach(() => {
  cli = new Cli({ GCORP_SELF_HOST_TEMPLATES: FIXTURE });
  work = tempDir('gcorp-self-host-');
});
afterEach(() => {
  cli.cleanup();
  work.cleanup();
});

const dotenv = (file: string) =>
  Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

const HEX64 = /^[0-9a-f]{64}$/;

describe('self-host init', () => {
  it('writes the real deployment: every listed file, and .env with every secret generated', async () => {
    const manifest = JSON.parse(readFileSync(join(REAL, 'manifest.json'), 'utf8')) as { files: string[]; env: { target: string }; secrets: Record<string, string> };
    const dir = join(work.dir, 'hub');
    const r = await cli.run(['self-host', 'init', dir, '--json'], { env: { GCORP_SELF_HOST_TEMPLATES: undefined } });
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ dir, files: [...manifest.files, manifest.env.target] });
    for (const file of manifest.files) expect(readFileSync(join(dir, file), 'utf8')).toBe(readFileSync(join(REAL, file), 'utf8'));
    const envFile = join(dir, manifest.env.target);
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    const env = dotenv(envFile);
    for (const name of ['GCORP_SECRET_KEY', 'GCORP_BOOTSTRAP_TOKEN', 'POSTGRES_PASSWORD', 'GCORP_DB_APP_PASSWORD', ...Object.keys(manifest.secrets)]) {
      expect(env[name], name).toMatch(HEX64);
    }
    const text = readFileSync(envFile, 'utf8');
    for (const name of Object.keys(manifest.secrets)) expect(text).not.toContain(`\${${name}}`);
  });

  it('fills only the secrets\' placeholders, and copies the other files as they are', async () => {
    const dir = join(work.dir, 'hub');
    const r = await cli.run(['self-host', 'init', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('docker compose up -d');
    expect(readdirSync(dir).sort()).toEqual(['.env', 'README.md', 'config', 'docker-compose.yml']);
    expect(readFileSync(join(dir, 'config', 'hub.yaml'), 'utf8')).toBe(readFileSync(join(FIXTURE, 'config', 'hub.yaml'), 'utf8'));
    const env = dotenv(join(dir, '.env'));
    expect(env.DATABASE_URL).toBe(`postgres://postgres:${env.POSTGRES_PASSWORD}@postgres:5432/gcorp`);
    expect(env.LEFT_FOR_COMPOSE).toBe('${HOME}');
    expect(env.GCORP_PUBLIC_URL).toBe('http://localhost:4100');
  });

  it('generates different secrets each time', async () => {
    await cli.run(['self-host', 'init', join(work.dir, 'a')]);
    await cli.run(['self-host', 'init', join(work.dir, 'b')]);
    const a = dotenv(join(work.dir, 'a', '.env'));
    const b = dotenv(join(work.dir, 'b', '.env'));
    for (const name of ['GCORP_SECRET_KEY', 'GCORP_BOOTSTRAP_TOKEN', 'POSTGRES_PASSWORD', 'GCORP_DB_APP_PASSWORD']) expect(a[name]).not.toBe(b[name]);
  });

  it('refuses a non-empty directory, and with --force keeps the old .env as a backup', async () => {
    const dir = join(work.dir, 'existing');
    mkdirSync(dir);
    writeFileSync(join(dir, '.env'), 'GCORP_SECRET_KEY=keep-me\n');
    const refused = await cli.run(['self-host', 'init', dir, '--json']);
    expect(refused.code).toBe(1);
    expect(json(refused)).toMatchObject({ code: 'directory_not_empty' });
    expect(readdirSync(dir)).toEqual(['.env']);
    expect(readFileSync(join(dir, '.env'), 'utf8')).toBe('GCORP_SECRET_KEY=keep-me\n');

    const forced = await cli.run(['self-host', 'init', dir, '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    const body = json(forced) as { env_backup: string };
    expect(readFileSync(body.env_backup, 'utf8')).toBe('GCORP_SECRET_KEY=keep-me\n');
    expect(dotenv(join(dir, '.env')).GCORP_SECRET_KEY).toMatch(HEX64);
  });

  it('says so when the templates are missing or their manifest is broken, writing nothing', async () => {
    const missing = await cli.run(['self-host', 'init', join(work.dir, 'x')], { env: { GCORP_SELF_HOST_TEMPLATES: join(work.dir, 'nope') } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('The self-host templates are missing from this installation');
    const broken = join(work.dir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'manifest.json'), JSON.stringify({ files: ['../../etc/passwd'], env: { template: 'env.template' }, secrets: {} }));
    const bad = await cli.run(['self-host', 'init', join(work.dir, 'y')], { env: { GCORP_SELF_HOST_TEMPLATES: broken } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('is not a valid templates manifest: files.0: must be a path inside the templates folder');
    expect(existsSync(join(work.dir, 'x'))).toBe(false);
    expect(existsSync(join(work.dir, 'y'))).toBe(false);
  });
});

describe('self-host bootstrap', () => {
  it('reads the bootstrap token from ./.env, as self-host init wrote it', async () => {
    const { startMockHub } = await import('./helpers/mock-hub.js');
    const hub = await startMockHub();
    try {
      const dir = join(work.dir, 'hub');
      expect((await cli.run(['self-host', 'init', dir])).code).toBe(0);
      const token = dotenv(join(dir, '.env')).GCORP_BOOTSTRAP_TOKEN;
      const r = await cli.run(['self-host', 'bootstrap', '--server', hub.url, '--email', 'ada@acme.example', '--tenant', 'Acme', '--no-login'], {
        cwd: dir,
        env: { GCORP_ADMIN_PASSWORD: 'correct horse battery staple' },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(hub.requestsTo('POST', '/v1/bootstrap')[0]!.body).bootstrap_token).toBe(token);
      const missing = await cli.run(['self-host', 'bootstrap', '--server', hub.url, '--tenant', 'Acme'], { cwd: dir });
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('--email is required when standard input is not a terminal');
    } finally {
      await hub.close();
    }
  });
});
