// A tenant's own model-provider settings: each provider it sets (API key, base URL, default model) replaces the
// instance's one for its model runs. The API key is encrypted at rest with the instance's data key and never read back
// by the API: responses say whether one is set and show its last four characters.
import type { Database } from '../db/database.js';
import { ProblemError, badRequest, type FieldError } from '../http/problem.js';
import { DEFAULT_ANTHROPIC_MODEL, PROVIDER_NAMES, checkProviderTarget, type ProviderName } from '../runtimes/providers.js';
import { RunFailure, type ProviderSettings, type WebhookSettings } from '../runtimes/types.js';
import { decryptSecret, encryptSecret } from './secrets.js';

interface ProviderRow {
  provider: ProviderName;
  api_key_enc: string | null;
  api_key_last4: string | null;
  base_url: string | null;
  default_model: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface TenantProviderView {
  provider: ProviderName;
  base_url: string | null;
  default_model: string | null;
  api_key_set: boolean;
  api_key_last4: string | null;
  created_at: string;
  updated_at: string;
}

/** PUT body: `api_key` omitted keeps the stored key, null removes it; `base_url` and `default_model` are replaced. */
export interface TenantProviderInput {
  api_key?: string | null;
  base_url?: string | null;
  default_model?: string | null;
}

/** Keys shorter than this show no last four characters: four would be too large a part of the secret. */
export const LAST4_MIN_KEY_LENGTH = 20;

const COLUMNS = 'provider, api_key_enc, api_key_last4, base_url, default_model, created_at, updated_at';

export function tenantProviderView(r: ProviderRow): TenantProviderView {
  return {
    provider: r.provider,
    base_url: r.base_url,
    default_model: r.default_model,
    api_key_set: r.api_key_enc !== null,
    api_key_last4: r.api_key_last4,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

/** List cursors: the last provider of the page (provider names are not ids, so they have their own cursor). */
export function encodeProviderCursor(provider: ProviderName): string {
  return Buffer.from(JSON.stringify({ p: provider })).toString('base64url');
}

export function decodeProviderCursor(cursor: string | undefined): ProviderName | null {
  if (cursor === undefined || cursor === '') return null;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { p?: unknown };
    if ((PROVIDER_NAMES as readonly unknown[]).includes(parsed.p)) return parsed.p as ProviderName;
  } catch {
    // fall through to the problem below
  }
  throw badRequest('The cursor is not one this server issued; start again without it.', [{ field: '/query/cursor', message: 'is not a valid cursor' }], 'invalid_cursor');
}

/** The route validates the name against the spec's enum; this keeps the service safe on its own. */
function assertProvider(provider: string): asserts provider is ProviderName {
  if (!(PROVIDER_NAMES as readonly string[]).includes(provider)) {
    throw new ProblemError(404, 'not_found', `There is no model provider named ${JSON.stringify(provider)}; use anthropic or openai_compatible.`);
  }
}

const PROVIDER_TITLES: Record<ProviderName, string> = { anthropic: 'Anthropic', openai_compatible: 'OpenAI-compatible' };

export interface TenantProviderOptions {
  /** GCORP_ALLOW_PRIVATE_WEBHOOKS: private and loopback base URLs (and plain http) are accepted. */
  allowPrivateTargets: boolean;
  /** CIDRs allowed even though private (the webhooks' setting). */
  allowedCidrs?: string[];
  /** Resolver for the address check (tests); default dns.lookup. */
  resolve?: WebhookSettings['resolve'];
}

export class TenantProviderService {
  constructor(
    private readonly db: Database,
    private readonly dataKey: Buffer,
    private readonly opts: TenantProviderOptions,
  ) {}

  /** The tenant's providers in name order (`limit + 1` rows, for the page helper). */
  async list(tenantId: string, after: ProviderName | null, limit: number): Promise<TenantProviderView[]> {
    const { rows } = await this.db.tenant(tenantId, (q) =>
      q.query<ProviderRow>(`select ${COLUMNS} from tenant_providers where ($1::text is null or provider > $1) order by provider limit $2`, [
        after,
        limit + 1,
      ]),
    );
    return rows.map(tenantProviderView);
  }

  /** A page of the list, with its next cursor. */
  async page(tenantId: string, cursor: string | undefined, limit: number): Promise<{ data: TenantProviderView[]; next_cursor: string | null }> {
    const rows = await this.list(tenantId, decodeProviderCursor(cursor), limit);
    const data = rows.slice(0, limit);
    return { data, next_cursor: rows.length > limit ? encodeProviderCursor(data[data.length - 1]!.provider) : null };
  }

  /** Creates or replaces the tenant's settings for `provider`. */
  async set(tenantId: string, provider: ProviderName, input: TenantProviderInput): Promise<TenantProviderView> {
    assertProvider(provider);
    const baseUrl = input.base_url ?? null;
    const defaultModel = input.default_model?.trim() || null;
    if (baseUrl !== null) await this.checkBaseUrl(baseUrl);
    if (provider === 'openai_compatible') {
      const missing: FieldError[] = [];
      if (baseUrl === null) missing.push({ field: '/body/base_url', message: 'is required for openai_compatible', code: 'required' });
      if (defaultModel === null) missing.push({ field: '/body/default_model', message: 'is required for openai_compatible', code: 'required' });
      if (missing.length > 0) {
        throw new ProblemError(400, 'validation_failed', 'An OpenAI-compatible provider needs base_url (its chat-completions API) and default_model.', {
          title: 'Request validation failed',
          errors: missing,
        });
      }
    }
    const sealed =
      typeof input.api_key === 'string'
        ? {
            enc: encryptSecret(this.dataKey, input.api_key),
            last4: input.api_key.length >= LAST4_MIN_KEY_LENGTH ? input.api_key.slice(-4) : null,
          }
        : null;
    return this.db.tenant(tenantId, async (q) => {
      const current = await q.query<Pick<ProviderRow, 'api_key_enc' | 'api_key_last4'>>(
        'select api_key_enc, api_key_last4 from tenant_providers where provider = $1 for update',
        [provider],
      );
      const kept = current.rows[0] ?? { api_key_enc: null, api_key_last4: null };
      const key = input.api_key === undefined ? { enc: kept.api_key_enc, last4: kept.api_key_last4 } : (sealed ?? { enc: null, last4: null });
      if (provider === 'anthropic' && key.enc === null) {
        throw badRequest(
          input.api_key === null ? 'The Anthropic provider needs an API key; remove the settings instead (DELETE).' : 'The Anthropic provider needs an API key: send api_key.',
          [{ field: '/body/api_key', message: 'is required for anthropic', code: 'required' }],
          'api_key_required',
        );
      }
      const { rows } = await q.query<ProviderRow>(
        `insert into tenant_providers (tenant_id, provider, api_key_enc, api_key_last4, base_url, default_model)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (tenant_id, provider) do update
           set api_key_enc = excluded.api_key_enc, api_key_last4 = excluded.api_key_last4, base_url = excluded.base_url,
               default_model = excluded.default_model, updated_at = now()
         returning ${COLUMNS}`,
        [tenantId, provider, key.enc, key.last4, baseUrl, defaultModel],
      );
      return tenantProviderView(rows[0]!);
    });
  }

  /** Removes the tenant's settings for `provider` (its runs use the instance's again); 404 when there are none. */
  async remove(tenantId: string, provider: ProviderName): Promise<void> {
    assertProvider(provider);
    const { rowCount } = await this.db.tenant(tenantId, (q) => q.query('delete from tenant_providers where provider = $1', [provider]));
    if (!rowCount) {
      throw new ProblemError(404, 'not_found', `This tenant has no settings of its own for the ${provider} provider.`);
    }
  }

  /**
   * What the model runtime uses for a run of the tenant (RuntimeOptions.tenantProviders): one indexed query, the keys
   * decrypted. Null when the tenant has set nothing.
   */
  async runtimeSettings(tenantId: string): Promise<Partial<ProviderSettings> | null> {
    const { rows } = await this.db.tenant(tenantId, (q) =>
      q.query<Pick<ProviderRow, 'provider' | 'api_key_enc' | 'base_url' | 'default_model'>>(
        'select provider, api_key_enc, base_url, default_model from tenant_providers',
      ),
    );
    if (rows.length === 0) return null;
    const out: Partial<ProviderSettings> = {};
    for (const r of rows) {
      const apiKey = r.api_key_enc === null ? undefined : this.open(r.provider, r.api_key_enc);
      if (r.provider === 'anthropic' && apiKey) {
        out.anthropic = { apiKey, defaultModel: r.default_model ?? DEFAULT_ANTHROPIC_MODEL, ...(r.base_url ? { baseUrl: r.base_url } : {}) };
      } else if (r.provider === 'openai_compatible' && r.base_url && r.default_model) {
        out.openaiCompatible = { baseUrl: r.base_url, defaultModel: r.default_model, ...(apiKey ? { apiKey } : {}) };
      }
    }
    return out;
  }

  private open(provider: ProviderName, sealed: string): string {
    try {
      return decryptSecret(this.dataKey, sealed);
    } catch {
      throw new RunFailure(
        'provider_not_configured',
        `The tenant's ${PROVIDER_TITLES[provider]} API key cannot be decrypted with this instance's secret key (was GCORP_SECRET_KEY changed?); set it again with PUT /v1/tenant/providers/${provider}.`,
        { status: 503 },
      );
    }
  }

  /**
   * A base URL must be https (plain http only where the operator allows private targets, for a model server on the
   * local network), carry no credentials, query or fragment, and not lead to a private or loopback address unless
   * the operator allows it. Names that do not resolve now are accepted: every run checks the address again.
   */
  private async checkBaseUrl(raw: string): Promise<void> {
    const field = '/body/base_url';
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw badRequest('base_url is not a valid URL.', [{ field, message: 'must be a URL' }], 'invalid_base_url');
    }
    const schemes = this.opts.allowPrivateTargets ? ['https:', 'http:'] : ['https:'];
    if (!schemes.includes(url.protocol)) {
      throw badRequest(
        this.opts.allowPrivateTargets ? 'base_url must be an http or https URL.' : 'base_url must be an https URL (plain http only where the operator allows private targets).',
        [{ field, message: this.opts.allowPrivateTargets ? 'must be an http(s) URL' : 'must be an https URL' }],
        'invalid_base_url',
      );
    }
    if (url.username || url.password || url.search || url.hash) {
      throw badRequest('base_url must not carry credentials, a query or a fragment; send the key as api_key.', [
        { field, message: 'must not carry credentials, a query or a fragment' },
      ], 'invalid_base_url');
    }
    const verdict = await checkProviderTarget(url, {
      allowPrivate: this.opts.allowPrivateTargets,
      ...(this.opts.allowedCidrs ? { allowedCidrs: this.opts.allowedCidrs } : {}),
      ...(this.opts.resolve ? { resolve: this.opts.resolve } : {}),
    });
    if (verdict.forbidden) {
      const { address, reason } = verdict.forbidden;
      throw badRequest(
        `base_url points at ${address} (${reason}); the hub only calls public addresses unless the operator sets GCORP_ALLOW_PRIVATE_WEBHOOKS.`,
        [{ field, message: 'targets a private or loopback address' }],
        'provider_target_forbidden',
      );
    }
  }
}
