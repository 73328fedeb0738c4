// What the providers commands share: the provider names, the table, and how a key is shown (never the key itself).
import type { TenantProvider } from '@genericcorp/sdk';
import { formatTime } from '../../lib/format.js';
import type { Output } from '../../lib/output.js';
import { printTable } from '../../lib/table.js';

export const PROVIDERS = ['anthropic', 'openai_compatible'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** The environment variable `providers set` reads the provider's API key from (never a flag). */
export const API_KEY_ENV = 'GCORP_PROVIDER_API_KEY';

export function describeKey(p: Pick<TenantProvider, 'api_key_set' | 'api_key_last4'>): string {
  if (!p.api_key_set) return 'none';
  return p.api_key_last4 ? `…${p.api_key_last4}` : 'set';
}

export function printProviders(out: Output, providers: TenantProvider[]): void {
  printTable(
    out,
    [{ header: 'PROVIDER' }, { header: 'API KEY' }, { header: 'BASE URL', shrink: true }, { header: 'DEFAULT MODEL', shrink: true }, { header: 'UPDATED' }],
    providers.map((p) => [
      p.provider,
      describeKey(p),
      p.base_url ?? (p.provider === 'anthropic' ? "(Anthropic's API)" : '-'),
      p.default_model ?? '(provider default)',
      formatTime(p.updated_at),
    ]),
    "This tenant has no provider settings of its own: its model runs use the instance's. Set some with `gcorp providers set`.",
  );
}
