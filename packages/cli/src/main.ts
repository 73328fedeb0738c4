// Runs gcorp: oclif finds the command in the manifest built at build time, and every error that escapes a command
// (unknown command, a failing hook) is reported the same way as a command's own, with the same exit codes.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Interfaces } from '@oclif/core';
import { run } from '@oclif/core/run';
import { settings } from '@oclif/core/settings';

/** The package's folder (this file is dist/main.js). */
const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

/** Waits until stdout has taken everything written to it (pipes on some platforms are asynchronous). */
function drain(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (!stream.writable) resolve();
    else stream.write('', () => resolve());
  });
}

/** The first words of gcorp's own commands and topics (`whoami`, `runs`, ...), from dist/commands/. */
function ownCommandWords(): Set<string> {
  try {
    return new Set(readdirSync(join(ROOT, 'dist', 'commands')).map((name) => name.replace(/\.js$/, '')));
  } catch {
    return new Set();
  }
}

/** oclif's logger when DEBUG is not set: its own (the `debug` package) only loads to find nothing to print. */
function silentLogger(namespace: string): Interfaces.Logger {
  const nothing = () => undefined;
  return {
    namespace,
    child: (ns, delimiter = ':') => silentLogger(`${namespace}${delimiter}${ns}`),
    debug: nothing,
    error: nothing,
    info: nothing,
    trace: nothing,
    warn: nothing,
  };
}

/**
 * How oclif loads the configuration. gcorp has no user-installed plugins (no `plugins install`), so oclif does not
 * look for them; and when one of gcorp's own commands or topics is run, the plugins it ships (autocomplete) are not
 * loaded either: none of their commands is the one being run. `gcorp --help` and `gcorp autocomplete` load them.
 */
function loadOptions(argv: string[]): Interfaces.LoadOptions {
  const pjson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Interfaces.PJSON;
  const first = argv[0];
  const own = first !== undefined && !first.startsWith('-') && ownCommandWords().has(first.split(':')[0]!);
  return {
    ...(process.env.DEBUG ? {} : { logger: silentLogger('oclif') }),
    root: ROOT,
    pjson: own ? { ...pjson, oclif: { ...pjson.oclif, plugins: [] } } : pjson,
    userPlugins: false,
  };
}

export async function main(argv: string[]): Promise<void> {
  // Never look for TypeScript sources next to dist/ (NODE_ENV=development or test would make oclif try).
  settings.enableAutoTranspile = false;
  try {
    await run(argv, loadOptions(argv));
  } catch (err) {
    const [{ reportError }, { Output }] = await Promise.all([import('./lib/errors.js'), import('./lib/output.js')]);
    const beforeDashes = argv.indexOf('--') === -1 ? argv : argv.slice(0, argv.indexOf('--'));
    const out = await Output.create({ json: beforeDashes.includes('--json'), debug: beforeDashes.includes('--debug') });
    process.exitCode = reportError(err, out);
  }
  await Promise.all([drain(process.stdout), drain(process.stderr)]);
  // Exit now: a keep-alive connection, a keychain call that timed out or a background token refresh must not keep
  // a finished command running.
  process.exit(process.exitCode ?? 0);
}
