// Global setup of the cli test project: the tests run the built CLI (bin/run.js -> dist/, with its oclif manifest) as
// child processes, against the built SDK, contract and server. `npm test` builds everything first (turbo); this
// rebuilds the CLI when a source is newer than its build, so `npx vitest run --project cli` works alone.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cliDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const packages = join(cliDir, '..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

export default function buildCli(): void {
  for (const [name, entry] of [
    ['@genericcorp/contract', join(packages, 'contract', 'dist', 'index.js')],
    ['@genericcorp/server', join(packages, 'server', 'dist', 'index.js')],
    ['@genericcorp/sdk', join(packages, 'sdk', 'dist', 'esm', 'index.js')],
  ] as const) {
    if (!existsSync(entry)) throw new Error(`${name} is not built (${entry} is missing): run \`npx turbo run build\` first.`);
  }
  const manifest = join(cliDir, 'oclif.manifest.json');
  const sources = Math.max(newestMtime(join(cliDir, 'src')), statSync(join(cliDir, 'package.json')).mtimeMs);
  if (existsSync(manifest) && existsSync(join(cliDir, 'dist', 'main.js')) && statSync(manifest).mtimeMs >= sources) return;
  execFileSync('npm', ['run', 'build'], { cwd: cliDir, stdio: 'inherit' });
}
