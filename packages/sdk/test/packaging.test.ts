// The package as npm publishes it: packed to a tarball, installed into an empty folder, used through `import` and
// `require` (JavaScript and TypeScript), and checked by publint and @arethetypeswrong/cli.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockHub, TEST_KEY, type MockHub } from './helpers/contract.js';

const run = promisify(execFile);
// npm run/npx hand their whole configuration to child processes as npm_config_* variables, some of which a nested
// `npm install` refuses (allow-scripts). The nested npm reads the same npmrc files itself.
const npmEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_config_/i.test(name)));
const require = createRequire(import.meta.url);
const sdkDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = join(sdkDir, '..', '..');
const manifest = JSON.parse(readFileSync(join(sdkDir, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  sideEffects: boolean;
};

let work: string;
let tarball: string;
let files: string[];
let consumer: string;
let hub: MockHub;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gcorp-sdk-pack-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: sdkDir, env: npmEnv });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, packed!.filename);
  files = packed!.files.map((file) => file.path);

  // An empty project that installs the tarball the way a user installs the published package.
  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--prefer-offline', tarball], { cwd: consumer, env: npmEnv });
  hub = await startMockHub();
}, 180_000);

afterAll(async () => {
  await hub?.close();
  rmSync(work, { recursive: true, force: true });
});

const script = (calls: string) => `
  const gc = new GenericCorp({ apiKey: process.env.KEY, baseUrl: process.env.HUB, maxRetries: 0 });
  ${calls}
  const me = await gc.me.get();
  const events = [];
  for await (const event of gc.runs.stream('run_01jdz7r8s9t0v1w2x3y4z5a6b7')) events.push(event.type);
  const error = await gc.apiKeys.get('key_x', { headers: { authorization: null } }).catch((e) => e);
  console.log(JSON.stringify({ version: VERSION, tenant: me.tenant.name, events, error: error.name, isApiError: error instanceof APIError }));
  await gc.close();
`;

async function node(args: string[]) {
  const { stdout } = await run(process.execPath, args, { cwd: consumer, env: { ...process.env, KEY: TEST_KEY, HUB: hub.url } });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('the packed package', () => {
  it('ships the ESM and CJS builds with their types, the sources for source maps, and nothing else', () => {
    for (const file of ['package.json', 'README.md', 'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/package.json', 'src/index.ts']) {
      expect(files).toContain(file);
    }
    expect(files.filter((file) => !/^(dist\/(esm|cjs)\/|src\/|package\.json$|README\.md$)/.test(file))).toEqual([]);
  });

  it('depends on undici and the SSE parser only, and has no side effects', () => {
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['eventsource-parser', 'undici']);
    expect(manifest.sideEffects).toBe(false);
    const installed = JSON.parse(readFileSync(join(consumer, 'node_modules', '@genericcorp', 'sdk', 'package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe(manifest.version);
  });

  it('works through import', async () => {
    const result = await node(['--input-type=module', '-e', `import { GenericCorp, APIError, VERSION } from '@genericcorp/sdk';\nimport Default from '@genericcorp/sdk';\nif (Default !== GenericCorp) throw new Error('default export');\n${script('')}`]);
    expect(result).toEqual({
      version: manifest.version,
      tenant: 'Acme',
      events: ['run.queued', 'run.started', 'run.output.delta', 'run.completed'],
      error: 'AuthenticationError',
      isApiError: true,
    });
  });

  it('works through require', async () => {
    const result = await node(['-e', `const { GenericCorp, APIError, VERSION } = require('@genericcorp/sdk');\n(async () => {${script('')}})().catch((e) => { console.error(e); process.exit(1); });`]);
    expect(result).toMatchObject({ version: manifest.version, tenant: 'Acme', error: 'AuthenticationError', isApiError: true });
  });

  // tsc and attw each take several seconds alone, and far more while other test files keep both cores busy.
  it('type-checks in a strict TypeScript project, as ESM and as CommonJS', { timeout: 180_000 }, async () => {
    const source = (importLine: string) => `${importLine}
const gc = new GenericCorp({ apiKey: 'k' });
export async function main(): Promise<string> {
  const run: Run = await gc.runs.create({ agent: 'echo', input: { message: 'hi' } });
  for await (const event of gc.runs.stream(run.id)) if (event.type === 'run.log') return event.data.message;
  return run.status;
}
export const isError = (e: unknown): boolean => e instanceof APIError;
`;
    writeFileSync(join(consumer, 'esm.mts'), source(`import { GenericCorp, APIError, type Run } from '@genericcorp/sdk';`));
    // In a .cts file the same import compiles to require() and resolves the package's "require" types.
    writeFileSync(join(consumer, 'cjs.cts'), source(`import { GenericCorp, APIError, type Run } from '@genericcorp/sdk';`));
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(repoRoot, 'node_modules', '@types')],
        },
        files: ['esm.mts', 'cjs.cts'],
      }),
    );
    const tsc = require.resolve('typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer }).catch((error: { stdout: string }) => error);
    expect('stdout' in result ? result.stdout : '').toBe('');
  });

  it('passes publint and @arethetypeswrong/cli', { timeout: 180_000 }, async () => {
    const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);
    const publint = await run(bin('publint'), ['--strict', sdkDir], { cwd: sdkDir });
    expect(publint.stdout).toContain('All good!');
    const attw = await run(bin('attw'), [tarball, '--format', 'ascii'], { cwd: sdkDir });
    expect(attw.stdout).toContain('No problems found');
  });
});
