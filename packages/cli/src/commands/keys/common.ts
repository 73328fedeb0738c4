// What the keys commands share: the scopes, a key's state, the table, and how a new secret is shown (once).
import type { ApiKey, ApiKeyWithSecret, Scope } from '@genericcorp/sdk';
import { formatRelative, formatTime } from '../../lib/format.js';
import type { Output } from '../../lib/output.js';
import { printTable } from '../../lib/table.js';

export const SCOPES = [
  'runs:read',
  'runs:write',
  'agents:read',
  'agents:write',
  'keys:manage',
  'usage:read',
  'tenant:admin',
  'instance:admin',
] as const satisfies readonly Scope[];

export function keyState(key: ApiKey, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (key.revoked_at) return 'revoked';
  if (key.expires_at && Date.parse(key.expires_at) <= now) return 'expired';
  return 'active';
}

export function printKeys(out: Output, keys: ApiKey[]): void {
  const c = out.out;
  printTable(
    out,
    [
      { header: 'ID' },
      { header: 'NAME', shrink: true },
      { header: 'PREFIX' },
      { header: 'SCOPES', shrink: true },
      { header: 'STATE', color: (text, raw) => (raw === 'active' ? c.green(text) : c.dim(text)) },
      { header: 'LAST USED' },
      { header: 'EXPIRES' },
    ],
    keys.map((k) => [
      k.id,
      k.name,
      k.prefix,
      k.scopes.join(' '),
      keyState(k),
      k.last_used_at ? formatRelative(k.last_used_at) : 'never',
      k.expires_at ? formatTime(k.expires_at) : 'never',
    ]),
    'No API keys.',
  );
}

/** The secret alone on stdout (so `$(gcorp keys create …)` captures just it), the rest on stderr. */
export function printNewSecret(out: Output, key: ApiKeyWithSecret, verb: 'Created' | 'Rotated'): void {
  if (out.json) {
    out.printJson(key);
    return;
  }
  const s = out.err;
  out.info(`${s.green('✓')} ${verb} API key ${s.bold(key.name)} (${key.id}), scopes ${key.scopes.join(' ')}, ${key.expires_at ? `expires ${formatTime(key.expires_at)}` : 'no expiry'}.`);
  out.print(key.key);
  out.info(s.yellow('Copy the key now: the hub never shows it again.'));
}
