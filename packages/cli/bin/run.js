#!/usr/bin/env node
// gcorp's entry point. `gcorp --version` is answered here, before oclif loads, so it costs little more than Node's
// own start; everything else goes through oclif (dist/main.js).
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);

if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  // The same line oclif prints (its `config.userAgent`).
  process.stdout.write(`${pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`);
} else {
  const { main } = await import('../dist/main.js');
  await main(argv);
}
