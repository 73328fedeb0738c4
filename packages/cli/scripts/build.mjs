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
//   Each is a module of its own that the bundle leaves out when nothing uses it (gcorp makes no proxy agent:
//   src/lib/sdk.ts), and of the request API only `request` is loaded up front (the SDK's only call).
// - Lazy requires. @oclif/core requires at load time everything it may ever need (help, spinners, globbing, ...), and
//   undici's client its HTTP/2 client (and node:http2); their top-level `const x = require("...")` become stand-ins
//   that require the module on first use (scripts/bundle-runtime.cjs).
// - A few exact rewrites of oclif's start-up path (REWRITES, wslUtilsIsWslOnly below): each the same behaviour
//   without a cost a CLI pays on every run.
//
// Left outside the bundle: what must be found on disk at run time (the keychain's native binding, `open` with the
// xdg-open script beside it, the optional server package, oclif's plugins), and typescript/ts-node, which oclif only
// loads for development sources (disabled in main.ts).
//
// dist/bundle.json records which sources each output file holds (tests read it to check what a command loads).
import { build } from 'esbuild';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
  const lib = (file) => {
    const path = join(undiciDir, 'lib', file);
    if (!existsSync(path)) throw new Error(`${path} is missing: scripts/build.mjs needs updating for this undici`);
    return JSON.stringify(path);
  };
  // What undici's index.js does for its dispatchers: the request API (every method api/index.js lists) on
  // Dispatcher.prototype, `request` up front, the others, which the SDK does not call, loaded on their first call.
  const methods = readFileSync(join(undiciDir, 'lib', 'api', 'index.js'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && line.trim() !== "'use strict'")
    .map((line) => {
      const m = /^module\.exports\.(\w+) = require\('\.\/([\w-]+)'\)$/.exec(line.trim());
      if (!m) throw new Error(`undici's lib/api/index.js has \`${line}\`: scripts/build.mjs needs updating for this undici`);
      return { name: m[1], file: `api/${m[2]}.js` };
    });
  if (!methods.some((m) => m.name === 'request')) throw new Error("undici's lib/api/index.js has no request: scripts/build.mjs needs updating");
  const api = [
    `const Dispatcher = require(${lib('dispatcher/dispatcher.js')});`,
    ...methods.map(({ name, file }) =>
      name === 'request'
        ? `Dispatcher.prototype.request = require(${lib(file)});`
        : `Dispatcher.prototype.${name} = function ${name}(...args) { return require(${lib(file)}).apply(this, args); };`,
    ),
    'module.exports = Dispatcher;',
  ].join('\n');
  // The exports the SDK imports; anything else fails the build here ("No matching export"): add it.
  const parts = {
    Dispatcher: `module.exports = require('undici-part:api');`,
    Agent: `require('undici-part:api'); module.exports = require(${lib('dispatcher/agent.js')});`,
    ProxyAgent: `require('undici-part:api'); module.exports = require(${lib('dispatcher/proxy-agent.js')});`,
    EnvHttpProxyAgent: `require('undici-part:api'); module.exports = require(${lib('dispatcher/env-http-proxy-agent.js')});`,
  };
  const index = Object.keys(parts).map((name) => `export { default as ${name} } from 'undici-part:${name}';`).join('\n');
  return {
    name: 'undici-without-index',
    setup(b) {
      b.onResolve({ filter: /^undici$/ }, (args) =>
        args.importer.startsWith(sdkDir + sep) ? { path: 'undici', namespace: 'undici-without-index', sideEffects: false } : undefined,
      );
      b.onResolve({ filter: /^undici-part:/ }, (args) => ({
        path: args.path,
        namespace: 'undici-without-index',
        // The parts do nothing but export (the API part sets up the prototype every part needs, and is kept with them).
        sideEffects: args.path === 'undici-part:api',
      }));
      b.onLoad({ filter: /.*/, namespace: 'undici-without-index' }, (args) => ({
        contents: args.path === 'undici' ? index : args.path === 'undici-part:api' ? api : parts[args.path.slice('undici-part:'.length)],
        loader: 'js',
        resolveDir: undiciDir,
      }));
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
  { file: /[\\/]node_modules[\\/]@oclif[\\/]core[\\/]lib[\\/].*\.js$/, module: () => true },
  { file: /[\\/]node_modules[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/, module: (m) => m === './client-h2.js' },
];
/**
 * Other rewrites, each of one exact piece of code (the build fails when it is not found, e.g. in a new version).
 * - oclif sorts a plugin's commands with `localeCompare`, whose first call in a process builds an ICU collator
 *   (~7 ms): gcorp's ids are compared without one (same order; scripts/bundle-runtime.cjs).
 */
const REWRITES = [
  {
    file: /[\\/]node_modules[\\/]@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/,
    from: '.sort((a, b) => a.id.localeCompare(b.id));',
    to: '.sort((a, b) => __gcorpCompareIds(a.id, b.id));',
  },
];
const RUNTIME = join(root, 'scripts', 'bundle-runtime.cjs');

function rewrites() {
  return {
    name: 'rewrites',
    setup(b) {
      b.onLoad({ filter: /[\\/]node_modules[\\/](@oclif[\\/]core|undici)[\\/]lib[\\/].*\.js$/ }, (args) => {
        let contents = readFileSync(args.path, 'utf8');
        const lazy = LAZY.find((r) => r.file.test(args.path));
        if (lazy) {
          contents = contents.replace(TOP_LEVEL_REQUIRE, (line, decl, name, expr, _quote, module) =>
            lazy.module(module) ? `${decl} ${name} = __gcorpLazy(() => ${expr});` : line,
          );
        }
        for (const r of REWRITES.filter((r) => r.file.test(args.path))) {
          if (!contents.includes(r.from)) throw new Error(`${args.path} no longer has \`${r.from}\`: update REWRITES in scripts/build.mjs`);
          contents = contents.replace(r.from, r.to);
        }
        const helpers = ['__gcorpLazy', '__gcorpCompareIds'].filter((name) => contents.includes(`${name}(`));
        if (helpers.length === 0) return undefined;
        return { contents: `const { ${helpers.join(', ')} } = require(${JSON.stringify(RUNTIME)});\n${contents}`, loader: 'js' };
      });
    },
  };
}

/**
 * oclif imports wsl-utils for its `isWsl` alone (Config.load: is the platform WSL?); wsl-utils also loads
 * child_process, fs/promises and a PowerShell helper. oclif's import of it gets is-wsl, what wsl-utils takes `isWsl`
 * from (an import of anything else from it fails the build: "No matching export").
 */
function wslUtilsIsWslOnly() {
  return {
    name: 'wsl-utils-is-wsl-only',
    setup(b) {
      b.onResolve({ filter: /^wsl-utils$/ }, async (args) => {
        if (!/[\\/]node_modules[\\/]@oclif[\\/]core[\\/]/.test(args.importer)) return undefined;
        const real = await b.resolve('wsl-utils', { kind: args.kind, resolveDir: args.resolveDir });
        if (real.errors.length > 0) return { errors: real.errors };
        return { path: real.path, namespace: 'wsl-utils-is-wsl-only' };
      });
      b.onLoad({ filter: /.*/, namespace: 'wsl-utils-is-wsl-only' }, (args) => ({
        contents: "export { default as isWsl } from 'is-wsl';",
        loader: 'js',
        resolveDir: dirname(args.path),
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
  plugins: [undiciWithoutIndex(), rewrites(), wslUtilsIsWslOnly()],
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
