// The CLI's own version, from its package.json (read once, when asked).
import { readFileSync } from 'node:fs';

let version: string | undefined;

export function cliVersion(): string {
  if (version === undefined) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    version = pkg.version ?? '0.0.0';
  }
  return version;
}
