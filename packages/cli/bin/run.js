#!/usr/bin/env node
// gcorp's entry point. `gcorp --version` is answered here, before oclif loads, so it costs little more than Node's
// own start; everything else goes through oclif (dist/main.js, built by scripts/build.mjs).
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);

if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  // The same line oclif prints (its `config.userAgent`).
  process.stdout.write(`${pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`);
} else {
  // Node >= 22.1 keeps compiled code on disk between runs (a no-op before: Node 20 has no module compile cache).
  process.getBuiltinModule('node:module').enableCompileCache?.();
  if (argv[0]?.split(':')[0] !== 'server') {
    // undici parses HTTP with llhttp compiled to WebAssembly, and V8 recompiles its hot functions with its optimizing
    // compiler (TurboFan) on a background thread, which a process has to wait for when it exits: about 100 ms of CPU
    // for a command that makes a request or two. Its baseline code (Liftoff) parses a CLI's responses just as well.
    // Not for `gcorp server start`, a long-running hub.
    process.getBuiltinModule('node:v8').setFlagsFromString('--liftoff-only');
  }
  const { main } = await import('../dist/main.js');
  await main(argv);
}
