// An unknown command: suggest the nearest known one (edit distance) and exit 2, instead of oclif's interactive prompt.
import type { Hook } from '@oclif/core';
import { CliError } from '../lib/errors.js';
import { ExitCode } from '../lib/exit-codes.js';

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

const hook: Hook.CommandNotFound = async function (options) {
  const typed = options.id.replace(/:/g, ' ');
  const known = options.config.commandIDs.filter((id) => !options.config.findCommand(id)?.hidden).map((id) => id.replace(/:/g, ' '));
  const ranked = known.map((id) => ({ id, d: distance(typed, id) })).sort((a, b) => a.d - b.d);
  const best = ranked[0];
  const close = best && best.d <= Math.max(2, Math.floor(typed.length / 3));
  throw new CliError(`"${typed}" is not a gcorp command.${close ? ` Did you mean "${best.id}"?` : ''}`, {
    exitCode: ExitCode.USAGE,
    code: 'unknown_command',
    title: 'Unknown command',
    hint: close ? `Run \`gcorp ${best.id} --help\`, or \`gcorp --help\` for every command.` : 'Run `gcorp --help` for the list of commands.',
  });
};

export default hook;
