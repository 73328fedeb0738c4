// Reading standard input: secrets and JSON come in this way (never as flag values, which show in the process list).
import { usageError } from './errors.js';

/** All of stdin as text; refuses a terminal (that would be a prompt in disguise) with a hint naming `flag`. */
export async function readStdin(flag: string, example: string, maxBytes = 16 * 1024 * 1024): Promise<string> {
  if (process.stdin.isTTY) {
    throw usageError(`${flag} reads from standard input, which is a terminal here.`, `Pipe it in, e.g. ${example}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > maxBytes) throw usageError(`${flag}: standard input is larger than ${Math.round(maxBytes / 1024 / 1024)} MiB.`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
