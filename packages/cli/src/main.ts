// Runs gcorp: oclif finds the command in the manifest built at build time, and every error that escapes a command
// (unknown command, a failing hook) is reported the same way as a command's own, with the same exit codes.
import { run } from '@oclif/core/run';
import { settings } from '@oclif/core/settings';

/** Waits until stdout has taken everything written to it (pipes on some platforms are asynchronous). */
function drain(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (!stream.writable) resolve();
    else stream.write('', () => resolve());
  });
}

export async function main(argv: string[]): Promise<void> {
  // Never look for TypeScript sources next to dist/ (NODE_ENV=development or test would make oclif try).
  settings.enableAutoTranspile = false;
  try {
    await run(argv, import.meta.url);
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
