// Questions on a terminal only: with stdin not a terminal, a command fails with the flag to use instead of waiting.
import { usageError } from './errors.js';
import type { Output } from './output.js';

function requireTerminal(what: string, instead: string): void {
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw usageError(`${what} needs confirmation, and standard input is not a terminal.`, instead);
  }
}

/** Asks a yes/no question on stderr; false unless the answer starts with y. */
export async function confirm(out: Output, question: string, instead: string): Promise<boolean> {
  requireTerminal(question.replace(/\?$/, ''), instead);
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${out.err.bold('?')} ${question} ${out.err.dim('(y/N)')} `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Reads a line from the terminal (the caller checks that there is one). */
export async function askLine(out: Output, question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(`${out.err.bold('?')} ${question} `);
  } finally {
    rl.close();
  }
}

/** Reads a secret from the terminal without echoing it. */
export async function askSecret(out: Output, question: string, instead: string): Promise<string> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw usageError(`${question} cannot be asked: standard input is not a terminal.`, instead);
  const { createInterface } = await import('node:readline');
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const output = rl as unknown as { _writeToOutput?: (s: string) => void };
    process.stderr.write(`${out.err.bold('?')} ${question} `);
    output._writeToOutput = () => undefined; // no echo
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    rl.on('SIGINT', () => {
      rl.close();
      reject(Object.assign(new Error('Interrupted.'), { name: 'APIUserAbortError' }));
    });
  });
}
