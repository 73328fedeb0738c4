// Writes oclif.manifest.json from the compiled commands (what `oclif manifest` does, with @oclif/core alone), so that
// gcorp finds commands and their flags without importing them. `--check` fails when the manifest on disk is missing
// or stale: different from what the compiled commands give, or listing a command whose source is gone.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plugin, settings } from '@oclif/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = join(root, 'oclif.manifest.json');
const check = process.argv.includes('--check');
settings.enableAutoTranspile = false;

function commandFiles(dir, ext) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext) && !e.name.endsWith(`.d${ext}`) && e.name !== `common${ext}`)
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)).slice(0, -ext.length))
    .sort();
}

const plugin = new Plugin({ root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
await plugin.load();
// Commands in a fixed order (the directory walk's order is the file system's), so that the file is reproducible.
const manifest = {
  ...plugin.manifest,
  commands: Object.fromEntries(Object.entries(plugin.manifest.commands).sort(([a], [b]) => a.localeCompare(b))),
};
const text = `${JSON.stringify(manifest, null, 2)}\n`;

if (!check) {
  writeFileSync(file, text);
  console.log(`oclif.manifest.json: ${Object.keys(manifest.commands).length} commands`);
  process.exit(0);
}

const problems = [];
const sources = commandFiles(join(root, 'src', 'commands'), '.ts');
const compiled = commandFiles(join(root, 'dist', 'commands'), '.js');
for (const name of compiled.filter((c) => !sources.includes(c))) problems.push(`dist/commands/${name}.js has no source (a deleted command still built): clean dist/ and rebuild`);
for (const name of sources.filter((s) => !compiled.includes(s))) problems.push(`src/commands/${name}.ts is not compiled: build first`);
if (!existsSync(file)) problems.push('oclif.manifest.json is missing: run `npm run build -w @genericcorp/cli`');
else if (readFileSync(file, 'utf8') !== text) problems.push('oclif.manifest.json differs from the compiled commands: run `npm run build -w @genericcorp/cli`');
if (problems.length > 0) {
  console.error(`oclif manifest is stale:\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log(`oclif.manifest.json is current (${Object.keys(manifest.commands).length} commands)`);
