// Builds gcorp into dist/ with esbuild (type checking is `npm run typecheck`): dist/main.js, the hooks and one ES
// module per command (dist/commands/<topic>/<name>.js, where oclif's `pattern` strategy and oclif.manifest.json find
// them), with everything they import bundled and the code they share split into dist/chunks/. Every .ts file under
// src/commands/ but common.ts is a command: a new command file needs no change here.
//
// Why: gcorp starts in a fraction of the time it took as hundreds of modules resolved, read and linked one by one
// (@oclif/core alone is ~160 files, undici ~110), and what a command reaches only through `import()` (the SDK, zod,
// conf, chalk, ora, ...) stays in chunks of its own, loaded only when a command gets there. On top of the bundling:
//
// - undici without its index. The SDK's `import ... from 'undici'` is given undici's agent, proxy agents and request
//   API, resolved at build time against the undici the SDK depends on, instead of undici's index.js, which also loads
//   fetch, WebSocket, the caches, the mocks and every interceptor: about half of undici's start-up, none of it used.
// - Lazy requires. @oclif/core requires at load time everything it may ever need (help, spinners, globbing, ...), and
//   undici's client its HTTP/2 client (and node:http2); their top-level `const x = require("...")` become stand-ins
//   that require the module on first use (scripts/lazy-require.cjs).
// - Built-in modules without ES module facades: an ES module `import` of `node:fs` makes Node build a facade module
//   of its exports; the bundle takes built-ins from `process.getBuiltinModule()` (Node >= 20.16) instead.
//
// Left outside the bundle: what must be found on disk at run time (the keychain's native binding, `open` with the
// xdg-open script beside it, the optional server package, oclif's plugins), and typescript/ts-node, which oclif only
// loads for development sources (disabled in main.ts).
//
// dist/bundle.json records which sources each output file holds (tests read it to check what a command loads).
import { build } from 'esbuild';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');

/** src/main.ts, src/hooks/*.ts and every command file (src/commands/**\/*.ts but common.ts). */
function entryPoints() {
  const entries = [join(src, 'main.ts')];
  for (const dir of ['hooks', 'commands']) {
    for (const e of readdirSync(join(src, dir), { withFileTypes: true, recursive: true })) {
      if (!e.isFile() || !e.name.endsWith('.ts') || e.name.endsWith('.d.ts') || e.name === 'common.ts') continue;
      entries.push(join(e.parentPath ?? e.path, e.name));
    }
  }
  return entries.sort();
}

const EXTERNAL = [
  '@napi-rs/keyring',
  '@napi-rs/keyring/*',
  'open',
  '@genericcorp/server',
  '@oclif/plugin-*',
  'typescript',
  'ts-node',
  'tsx',
];

/** The SDK's `undici` import, served by undici's dispatcher and request API modules without its index. */
function undiciWithoutIndex() {
  const sdkDir = dirname(createRequire(join(root, 'package.json')).resolve('@genericcorp/sdk/package.json'));
  const undiciDir = dirname(createRequire(join(sdkDir, 'package.json')).resolve('undici/package.json'));
  const modules = {
    Dispatcher: 'dispatcher/dispatcher.js',
    api: 'api/index.js',
    Agent: 'dispatcher/agent.js',
    ProxyAgent: 'dispatcher/proxy-agent.js',
    EnvHttpProxyAgent: 'dispatcher/env-http-proxy-agent.js',
  };
  for (const file of Object.values(modules)) {
    if (!existsSync(join(undiciDir, 'lib', file))) {
      throw new Error(`${join(undiciDir, 'lib', file)} is missing: scripts/build.mjs needs updating for this undici`);
    }
  }
  // What undici's index.js does for these: the request API (request, stream, pipeline, ...) on every dispatcher. An
  // import of anything else from 'undici' by the SDK fails the build here ("No matching export"): add it above.
  const contents = [
    ...Object.entries(modules).map(([name, file]) => `import ${name} from ${JSON.stringify(join(undiciDir, 'lib', file))};`),
    'Object.assign(Dispatcher.prototype, api);',
    'export { Agent, Dispatcher, EnvHttpProxyAgent, ProxyAgent };',
  ].join('\n');
  return {
    name: 'undici-without-index',
    setup(b) {
      b.onResolve({ filter: /^undici$/ }, (args) =>
        args.importer.startsWith(sdkDir + sep) ? { path: 'undici', namespace: 'undici-without-index' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'undici-without-index' }, () => ({ contents, loader: 'js', resolveDir: undiciDir }));
    },
  };
}

// `const x = require("m");`, `const x = __importDefault(require("m"));`, `const x = __importStar(require("m"));`, with
// or without the semicolon, at the start of a line (top level in these files).
const TOP_LEVEL_REQUIRE = /^(const|var|let) ([\w$]+) = ((?:__importDefault\(|__importStar\()?require\((["'])([^"']+)\4\)\)?);?$/gm;
/**
 * Whose requires become lazy: all of @oclif/core's (TypeScript's output, which only ever uses a module as `x_1.name`),
 * and undici's HTTP/2 client in its client (a function, called for h2 connections only).
 */
const LAZY = [
  { file: /\/node_modules\/@oclif\/core\/lib\/.*\.js$/, module: () => true },
  { file: /\/node_modules\/undici\/lib\/dispatcher\/client\.js$/, module: (m) => m === './client-h2.js' },
];
const LAZY_HELPER = join(root, 'scripts', 'lazy-require.cjs');
function lazyRequires() {
  return {
    name: 'lazy-requires',
    setup(b) {
      b.onLoad({ filter: /\/node_modules\/(@oclif\/core|undici)\/lib\/.*\.js$/ }, (args) => {
        const rule = LAZY.find((r) => r.file.test(args.path));
        if (!rule) return undefined;
        let lazy = 0;
        const contents = readFileSync(args.path, 'utf8').replace(TOP_LEVEL_REQUIRE, (line, decl, name, expr, _quote, module) => {
          if (!rule.module(module)) return line;
          lazy++;
          return `${decl} ${name} = __gcorpLazy(() => ${expr});`;
        });
        if (lazy === 0) return undefined;
        return { contents: `const { __gcorpLazy } = require(${JSON.stringify(LAZY_HELPER)});\n${contents}`, loader: 'js' };
      });
    },
  };
}

/**
 * Static ES module imports of Node's built-ins, served by `process.getBuiltinModule()` (no facade module). Not
 * `import('node:...')`: a chunk of its own would only have the default export.
 */
function builtinsWithoutFacade() {
  const names = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  return {
    name: 'builtins-without-facade',
    setup(b) {
      b.onResolve({ filter: /^(node:)?[a-z_/0-9]+$/ }, (args) => {
        if (!names.has(args.path) || args.kind !== 'import-statement') return undefined;
        return { path: args.path.startsWith('node:') ? args.path : `node:${args.path}`, namespace: 'builtin' };
      });
      // CommonJS, so that importers read the built-in's properties when they use them, as with `require`.
      b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
        contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`,
        loader: 'js',
      }));
    },
  };
}

rmSync(dist, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: entryPoints(),
  outbase: src,
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  external: EXTERNAL,
  plugins: [undiciWithoutIndex(), lazyRequires(), builtinsWithoutFacade()],
  // The bundled CommonJS packages call require() (Node's built-ins, and oclif for plugins and require.resolve).
  banner: { js: "const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);" },
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

const outputs = {};
// Paths in the metafile are relative to absWorkingDir (the package), with forward slashes.
for (const [file, output] of Object.entries(result.metafile.outputs)) outputs[file] = Object.keys(output.inputs).sort();
writeFileSync(join(dist, 'bundle.json'), `${JSON.stringify({ outputs }, null, 1)}\n`);
const files = Object.keys(outputs);
const count = (prefix) => files.filter((f) => f.startsWith(prefix)).length;
console.log(`dist: ${count('dist/commands/')} commands, ${count('dist/hooks/')} hooks, ${count('dist/chunks/')} chunks`);
