// Generates src/generated/openapi.ts from ../../openapi.yaml with openapi-typescript, or with --check regenerates into
// a temporary file and fails (exit 1, with a diff) when the committed file differs: the CI drift check.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const spec = join(packageDir, '..', '..', 'openapi.yaml');
const target = join(packageDir, 'src', 'generated', 'openapi.ts');
const cli = join(dirname(createRequire(import.meta.url).resolve('openapi-typescript/package.json')), 'bin', 'cli.js');
// Defaults make optional request fields with a `default` (timeout_seconds, max_tokens) required: turned off.
const FLAGS = ['--default-non-nullable', 'false'];

function generate(output) {
  execFileSync(process.execPath, [cli, spec, '--output', output, ...FLAGS], { cwd: packageDir, stdio: ['ignore', 'ignore', 'inherit'] });
}

if (!process.argv.includes('--check')) {
  generate(target);
  console.log(`generated ${relative(process.cwd(), target)} from ${relative(process.cwd(), spec)}`);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'gcorp-sdk-generated-'));
  try {
    const fresh = join(dir, 'openapi.ts');
    generate(fresh);
    if (readFileSync(fresh, 'utf8') === readFileSync(target, 'utf8')) {
      console.log('src/generated/openapi.ts is up to date with openapi.yaml');
    } else {
      try {
        execFileSync('diff', ['-u', target, fresh], { stdio: 'inherit' });
      } catch {
        // diff exits 1 when the files differ; its output is the point.
      }
      console.error('\nsrc/generated/openapi.ts is out of date with openapi.yaml: run `npm run generate -w @genericcorp/sdk` and commit it.');
      process.exitCode = 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
