// The CLI as npm installs it: `npm pack` of the CLI and the SDK, both installed into an empty prefix, then
// `gcorp --help`, `gcorp --version` and a real command run from there (its dependencies resolved, its manifest used).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_DIR, cliEnv } from './helpers/cli.js';
import { TEST_KEY, startMockHub, type MockHub } from './helpers/mock-hub.js';

const run = promisify(execFile);
// npm run/npx hand their whole configuration to child processes as npm_config_* variables, some of which a nested
// `npm install` refuses. The nested npm reads the same npmrc files itself.
const npmEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_config_/i.test(name)));
const SDK_DIR = join(CLI_DIR, '..', 'sdk');
const manifest = JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')) as { version: string; name: string };

let work: string;
let prefix: string;
let files: string[];
let hub: MockHub;

async function pack(dir: string): Promise<{ tarball: string; files: string[] }> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: dir, env: npmEnv, maxBuffer: 16 * 1024 * 1024 });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  return { tarball: join(work, packed!.filename), files: packed!.files.map((f) => f.path) };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gcorp-cli-pack-'));
  const [cli, sdk] = await Promise.all([pack(CLI_DIR), pack(SDK_DIR)]);
  files = cli.files;
  prefix = join(work, 'prefix');
  mkdirSync(prefix);
  writeFileSync(join(prefix, 'package.json'), JSON.stringify({ name: 'empty', version: '1.0.0', private: true }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--prefer-offline', cli.tarball, sdk.tarball], {
    cwd: prefix,
    env: npmEnv,
    maxBuffer: 16 * 1024 * 1024,
  });
  hub = await startMockHub();
}, 300_000);

afterAll(async () => {
  await hub?.close();
  rmSync(work, { recursive: true, force: true });
});

const gcorp = () => join(prefix, 'node_modules', '.bin', 'gcorp');

describe('the packed CLI', () => {
  it('ships the binary, the compiled commands and the manifest, and no sources or tests', () => {
    for (const file of [
      'package.json',
      'README.md',
      'bin/run.js',
      'oclif.manifest.json',
      'dist/main.js',
      'dist/commands/run.js',
      'dist/commands/runs/list.js',
      'templates/self-host/manifest.json',
      'templates/self-host/env.template',
      'templates/self-host/docker-compose.yml',
    ]) {
      expect(files).toContain(file);
    }
    expect(files.filter((f) => /^(src|test|scripts)\//.test(f) || f.endsWith('.ts') || f.endsWith('.map'))).toEqual([]);
  });

  it('installs a `gcorp` binary that prints --version and --help', async () => {
    expect(existsSync(gcorp())).toBe(true);
    const { stdout: version } = await run(gcorp(), ['--version'], { env: cliEnv(work) });
    expect(version.trim()).toBe(`${manifest.name}/${manifest.version} ${process.platform}-${process.arch} node-${process.version}`);
    const { stdout: help } = await run(gcorp(), ['--help'], { env: cliEnv(work) });
    expect(help).toContain('USAGE\n  $ gcorp [COMMAND]');
    for (const topic of ['agents', 'keys', 'runs', 'self-host', 'server']) expect(help).toContain(topic);
    for (const command of ['api', 'autocomplete', 'login', 'logout', 'run', 'usage', 'whoami']) expect(help).toMatch(new RegExp(`\\n  ${command}\\s`));
  });

  it('runs a command against a hub with the dependencies it installed', async () => {
    const { stdout } = await run(process.execPath, [join(prefix, 'node_modules', '@genericcorp', 'cli', 'bin', 'run.js'), 'whoami', '--json'], {
      env: cliEnv(work, { GCORP_SERVER_URL: hub.url, GCORP_API_KEY: TEST_KEY }),
    });
    expect(JSON.parse(stdout)).toMatchObject({ kind: 'user', tenant: { name: 'Acme' } });
    // The installed CLI uses the installed SDK, not the repository's.
    expect(existsSync(join(prefix, 'node_modules', '@genericcorp', 'sdk', 'dist', 'esm', 'index.js'))).toBe(true);
  });

  it('finds its self-host templates where it is installed', async () => {
    const target = join(work, 'deployment');
    await run(gcorp(), ['self-host', 'init', target], { env: cliEnv(work) });
    expect(existsSync(join(target, 'docker-compose.yml'))).toBe(true);
    expect(readFileSync(join(target, '.env'), 'utf8')).toMatch(/^GCORP_SECRET_KEY=[0-9a-f]{64}$/m);
  });
});
