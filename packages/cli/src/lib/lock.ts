// A lock file between gcorp processes, so two of them never spend the same single-use refresh token.
import { mkdirSync, openSync, closeSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

const STALE_MS = 30_000;
const WAIT_MS = 15_000;

/** Runs `fn` holding `file` (created exclusively); a lock older than 30 s is taken to be a crashed holder's. */
export async function withLockFile<T>(file: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(file, 'wx', 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(file).mtimeMs > STALE_MS) rmSync(file, { force: true });
      } catch {
        // Released meanwhile.
      }
      if (Date.now() > deadline) throw new Error(`another gcorp process holds ${file}; try again, or delete it if none is running`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}
