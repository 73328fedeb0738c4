// Global setup of the sdk test project: the packaging and examples tests run the built package (dist/), and the
// integration tests the built server, so both must be there and current. `npm test` builds everything first (turbo);
// this rebuilds the SDK when a source file is newer than its build, so `npx vitest run --project sdk` works alone.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const sdkDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const serverEntry = join(sdkDir, '..', 'server', 'dist', 'index.js');
const contractEntry = join(sdkDir, '..', 'contract', 'dist', 'index.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

export default function buildSdk(): void {
  for (const [name, entry] of [['@genericcorp/contract', contractEntry], ['@genericcorp/server', serverEntry]] as const) {
    if (!existsSync(entry)) throw new Error(`${name} is not built (${entry} is missing): run \`npx turbo run build\` first.`);
  }
  const built = join(sdkDir, 'dist', 'esm', 'index.js');
  const sources = Math.max(newestMtime(join(sdkDir, 'src')), statSync(join(sdkDir, 'package.json')).mtimeMs);
  if (existsSync(built) && existsSync(join(sdkDir, 'dist', 'cjs', 'index.js')) && statSync(built).mtimeMs >= sources) return;
  execFileSync(process.execPath, [join(sdkDir, 'scripts', 'build.mjs')], { cwd: sdkDir, stdio: 'inherit' });
}
