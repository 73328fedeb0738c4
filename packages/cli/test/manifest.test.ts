// Start-up: commands are found through oclif.manifest.json (current with the compiled commands), every command has a
// summary and examples, and `gcorp --version` and `gcorp --help` load almost nothing: no command, no SDK, no zod, no
// conf (commands import those inside run()). What a run loads is read from the ES module loader (the files of dist/)
// and dist/bundle.json (the sources each of those files holds: the build bundles them).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, CLI_DIR, cliEnv, tempDir } from './helpers/cli.js';
import { TEST_KEY, startMockHub, type MockHub } from './helpers/mock-hub.js';

const run = promisify(execFile);
const RECORDER = join(import.meta.dirname, 'fixtures', 'record-imports.mjs');
let hub: MockHub;
let work: ReturnType<typeof tempDir>;

beforeAll(async () => {
  hub = await startMockHub();
  work = tempDir('gcorp-imports-');
});
afterAll(async () => {
  await hub.close();
  work.cleanup();
});

interface ManifestCommand {
  summary?: string;
  examples?: unknown[];
  flags: Record<string, unknown>;
  pluginName: string;
}

/** The module URLs `gcorp ...args` resolves through the ES module loader. */
async function importsOf(args: string[], env: Record<string, string> = {}): Promise<string[]> {
  const file = join(work.dir, `imports-${args.join('_').replace(/\W+/g, '_')}.txt`);
  await run(process.execPath, ['--import', RECORDER, BIN, ...args], { env: { ...cliEnv(work.dir, env), RECORD_IMPORTS: file } });
  return readFileSync(file, 'utf8').trim().split('\n');
}

/**
 * The sources `gcorp ...args` loads: for each file of dist/ it imports, the sources bundled into it (paths relative
 * to packages/cli: `src/commands/whoami.ts`, `../sdk/dist/esm/client.js`, `../../node_modules/zod/...`), and the
 * URLs of anything else (node_modules packages left out of the bundle).
 */
async function sourcesOf(args: string[], env: Record<string, string> = {}): Promise<string[]> {
  const bundle = JSON.parse(readFileSync(join(CLI_DIR, 'dist', 'bundle.json'), 'utf8')) as { outputs: Record<string, string[]> };
  const distUrl = pathToFileURL(join(CLI_DIR, 'dist')).href + '/';
  const sources = new Set<string>();
  for (const url of await importsOf(args, env)) {
    if (!url.startsWith(distUrl)) {
      sources.add(url);
      continue;
    }
    const inputs = bundle.outputs[`dist/${url.slice(distUrl.length)}`];
    if (!inputs) throw new Error(`${url} is not in dist/bundle.json: rebuild`);
    for (const input of inputs) sources.add(input);
  }
  return [...sources];
}

describe('the oclif manifest', () => {
  it('is current with the compiled commands', async () => {
    const { stdout } = await run(process.execPath, [join(CLI_DIR, 'scripts', 'manifest.mjs'), '--check']);
    expect(stdout).toContain('oclif.manifest.json is current');
  });

  it('gives every command a summary and examples', () => {
    const manifest = JSON.parse(readFileSync(join(CLI_DIR, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, ManifestCommand> };
    const ids = Object.keys(manifest.commands);
    expect(ids.sort()).toEqual(
      [
        'agents:get', 'agents:list', 'api', 'keys:create', 'keys:list', 'keys:revoke', 'keys:rotate', 'login', 'logout',
        'providers:list', 'providers:remove', 'providers:set', 'run', 'runs:cancel', 'runs:get', 'runs:list', 'runs:logs',
        'runs:wait', 'self-host:bootstrap', 'self-host:init', 'server:start', 'usage', 'whoami',
      ].sort(),
    );
    for (const [id, command] of Object.entries(manifest.commands)) {
      expect(command.summary, id).toBeTruthy();
      expect(command.examples?.length, id).toBeGreaterThan(0);
      for (const flag of ['json', 'profile', 'server', 'debug']) expect(command.flags, `${id} --${flag}`).toHaveProperty(flag);
    }
  });
});

describe('shell completion', () => {
  it('`gcorp autocomplete` builds completions of every command (bash, zsh)', async () => {
    const home = join(work.dir, 'home');
    const env = { ...cliEnv(work.dir), HOME: home, XDG_CACHE_HOME: join(home, '.cache') };
    const { stdout } = await run(process.execPath, [BIN, 'autocomplete', 'bash'], { env });
    expect(stdout).toContain('gcorp autocomplete script bash');
    const bash = readFileSync(join(home, '.cache', 'gcorp', 'autocomplete', 'functions', 'bash', 'gcorp.bash'), 'utf8');
    for (const command of ['whoami', 'runs:list', 'keys:create', 'self-host:init']) expect(bash).toContain(command);
    await run(process.execPath, [BIN, 'autocomplete', 'zsh'], { env });
    expect(readFileSync(join(home, '.cache', 'gcorp', 'autocomplete', 'functions', 'zsh', '_gcorp'), 'utf8')).toContain('whoami');
  });
});

describe('start-up loads only what the command needs', () => {
  const heavy = (sources: string[]) =>
    sources.filter((s) => /^src\/commands\/|^\.\.\/sdk\/|\/packages\/sdk\/|undici|\/node_modules\/(zod|conf|ora|chalk|@napi-rs)\//.test(s));

  it('--version loads no oclif at all', async () => {
    const urls = await importsOf(['--version']);
    expect(urls.filter((u) => u.includes('@oclif') || u.includes('/dist/'))).toEqual([]);
  });

  it('--help loads no command, SDK or schema library', async () => {
    expect(heavy(await sourcesOf(['--help']))).toEqual([]);
    expect(heavy(await sourcesOf(['runs', '--help']))).toEqual([]);
  });

  it('a command loads itself and the SDK, and no config file library when flags and env give everything', async () => {
    const sources = await sourcesOf(['whoami', '--json'], { GCORP_API_KEY: TEST_KEY, GCORP_SERVER_URL: hub.url });
    expect(sources).toContain('src/commands/whoami.ts');
    expect(sources).toContain('../sdk/dist/esm/client.js');
    expect(sources.filter((s) => /^src\/commands\/(?!whoami\.ts$)/.test(s))).toEqual([]);
    expect(sources.filter((s) => /\/node_modules\/(conf|zod|ora|@napi-rs)\//.test(s))).toEqual([]);
    // The SDK's transport without undici's index (fetch, WebSocket, caches, mocks) nor the proxy agents gcorp never
    // makes (SDK values come through src/lib/sdk.ts): see scripts/build.mjs.
    expect(sources).toContain('../../node_modules/undici/lib/dispatcher/agent.js');
    const unused = ['index.js', 'lib/web/fetch/index.js', 'lib/web/websocket/websocket.js', 'lib/mock/mock-agent.js', 'lib/cache/memory-cache-store.js', 'lib/dispatcher/proxy-agent.js'];
    expect(sources.filter((s) => unused.some((file) => s.endsWith(`/node_modules/undici/${file}`)))).toEqual([]);
  });
});
