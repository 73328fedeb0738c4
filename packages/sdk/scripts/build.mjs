// Builds dist/esm (ES modules) and dist/cjs (CommonJS), each with its own .d.ts files, from the same sources:
// two tsc passes, no bundler, so the published files map one to one onto src/ and tree-shake cleanly.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = (...args) => execFileSync(process.execPath, [tsc, ...args], { cwd: packageDir, stdio: 'inherit' });

rmSync(join(packageDir, 'dist'), { recursive: true, force: true });
run('-p', 'tsconfig.json');
run('-p', 'tsconfig.cjs.json');
// The package is "type": "module": without this file Node and TypeScript would read dist/cjs (and its .d.ts) as ESM.
mkdirSync(join(packageDir, 'dist', 'cjs'), { recursive: true });
writeFileSync(join(packageDir, 'dist', 'cjs', 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
