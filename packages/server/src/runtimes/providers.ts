// Model-provider settings: the environment variables that configure them, which provider a run uses, and the
// outbound-address rules for base URLs a tenant chose (the same SSRF rules as webhooks).
import type { LookupFunction } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { bareHost, checkAddress, defaultResolve, firstForbidden, hostAddresses, parseCidr, parseIp, type Cidr } from './ssrf.js';
import type { AnthropicSettings, OpenAICompatibleSettings, ProviderSettings, RuntimeOptions, WebhookSettings } from './types.js';
import { RunFailure } from './types.js';

/** The model providers, as the API names them. */
export const PROVIDER_NAMES = ['anthropic', 'openai_compatible'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export const DEFAULT_ANTHROPIC_MODEL = 'claude-sonnet-4-5';

/** The environment variables an operator sets to configure the model providers (read by config.ts). */
export const PROVIDER_ENV_VARS = {
  anthropic: {
    apiKey: 'ANTHROPIC_API_KEY',
    baseUrl: 'ANTHROPIC_BASE_URL',
    defaultModel: 'GCORP_ANTHROPIC_MODEL',
  },
  openaiCompatible: {
    baseUrl: 'GCORP_OPENAI_BASE_URL',
    apiKey: 'GCORP_OPENAI_API_KEY',
    defaultModel: 'GCORP_OPENAI_MODEL',
  },
} as const;

/**
 * Provider settings from environment variables (pass config.ts's env; this module never reads process.env):
 * Anthropic when ANTHROPIC_API_KEY is set, the OpenAI-compatible endpoint when GCORP_OPENAI_BASE_URL and
 * GCORP_OPENAI_MODEL are set. Throws on a malformed base URL.
 */
export function providerSettingsFromEnv(env: Record<string, string | undefined>): ProviderSettings {
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const out: ProviderSettings = {};
  const a = PROVIDER_ENV_VARS.anthropic;
  const apiKey = get(a.apiKey);
  if (apiKey) {
    const baseUrl = get(a.baseUrl);
    if (baseUrl) assertHttpUrl(baseUrl, a.baseUrl);
    out.anthropic = { apiKey, defaultModel: get(a.defaultModel) ?? DEFAULT_ANTHROPIC_MODEL, ...(baseUrl ? { baseUrl } : {}) };
  }
  const o = PROVIDER_ENV_VARS.openaiCompatible;
  const baseUrl = get(o.baseUrl);
  if (baseUrl) {
    assertHttpUrl(baseUrl, o.baseUrl);
    const model = get(o.defaultModel);
    if (!model) throw new Error(`${o.defaultModel} must be set with ${o.baseUrl} (the model to use by default)`);
    const key = get(o.apiKey);
    out.openaiCompatible = { baseUrl, defaultModel: model, ...(key ? { apiKey: key } : {}) };
  }
  return out;
}

function assertHttpUrl(value: string, name: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${name} must be an http(s) URL`);
}

export type ResolvedProvider = (
  | { provider: 'anthropic'; settings: AnthropicSettings }
  | { provider: 'openai_compatible'; settings: OpenAICompatibleSettings }
) & {
  /** Whose settings these are: the tenant's own (PUT /v1/tenant/providers/{provider}) or the instance's. */
  source: 'tenant' | 'instance';
  /** For a tenant's base URL when private targets are refused: a dispatcher that checks every address it connects to. */
  dispatcher?: Dispatcher;
};

function notConfigured(requested: ProviderName | null): RunFailure {
  const a = PROVIDER_ENV_VARS.anthropic;
  const o = PROVIDER_ENV_VARS.openaiCompatible;
  const anthropicHow = `set ${a.apiKey} (optionally ${a.baseUrl} and ${a.defaultModel})`;
  const openaiHow = `set ${o.baseUrl} and ${o.defaultModel} (optionally ${o.apiKey})`;
  const tenantHow = (p: ProviderName) => `a tenant admin can set the tenant's own with PUT /v1/tenant/providers/${p} (gcorp providers set ${p})`;
  const detail =
    requested === 'anthropic'
      ? `This agent uses the Anthropic provider, which is not configured on this instance or tenant; the operator can ${anthropicHow}, or ${tenantHow('anthropic')}.`
      : requested === 'openai_compatible'
        ? `This agent uses an OpenAI-compatible provider, which is not configured on this instance or tenant; the operator can ${openaiHow}, or ${tenantHow('openai_compatible')}.`
        : `No model provider is configured on this instance or tenant; the operator can ${anthropicHow}, or ${openaiHow} for an OpenAI-compatible endpoint, or ${tenantHow('anthropic')}.`;
  return new RunFailure('provider_not_configured', detail, { status: 503 });
}

type ResolveOptions = Pick<RuntimeOptions, 'providers' | 'tenantProviders'> & Partial<Pick<RuntimeOptions, 'webhook'>>;

/**
 * The provider a model agent runs on: the agent's `provider`, or the default (Anthropic when configured, else the
 * OpenAI-compatible endpoint). A tenant's own settings for a provider replace the instance's for that provider. A
 * tenant's base URL must not lead to a private or loopback address unless the operator allows private targets
 * (`options.webhook.allowPrivate`, GCORP_ALLOW_PRIVATE_WEBHOOKS): it is checked here, and the returned dispatcher
 * checks every address it connects to (DNS answers that change, redirects).
 */
export async function resolveProvider(options: ResolveOptions, tenantId: string, requested: ProviderName | null): Promise<ResolvedProvider> {
  const tenant = options.tenantProviders ? await options.tenantProviders(tenantId) : null;
  let resolved: ResolvedProvider | undefined;
  const anthropic = tenant?.anthropic ? { settings: tenant.anthropic, source: 'tenant' as const } : options.providers.anthropic ? { settings: options.providers.anthropic, source: 'instance' as const } : null;
  const openai = tenant?.openaiCompatible
    ? { settings: tenant.openaiCompatible, source: 'tenant' as const }
    : options.providers.openaiCompatible
      ? { settings: options.providers.openaiCompatible, source: 'instance' as const }
      : null;
  if ((requested === 'anthropic' || requested === null) && anthropic) resolved = { provider: 'anthropic', ...anthropic };
  else if ((requested === 'openai_compatible' || requested === null) && openai) resolved = { provider: 'openai_compatible', ...openai };
  if (!resolved) throw notConfigured(requested);
  if (resolved.source === 'tenant' && resolved.settings.baseUrl) {
    const dispatcher = await guardTenantBaseUrl(resolved.settings.baseUrl, options.webhook);
    if (dispatcher) resolved.dispatcher = dispatcher;
  }
  return resolved;
}

// ---- the SSRF rules for a tenant's base URL ----

function allowedCidrs(settings: Partial<WebhookSettings> | undefined): Cidr[] {
  return (settings?.allowedCidrs ?? []).map((c) => parseCidr(c)).filter((c): c is Cidr => c !== null);
}

export interface TargetVerdict {
  /** The first forbidden address and why, when the host leads to one. */
  forbidden?: { address: string; reason: string };
  /** The host name did not resolve now (accepted at set-up; every run checks again). */
  unresolved?: boolean;
}

/**
 * Whether a base URL's host is, or resolves to, a private, loopback, link-local... address (webhooks' rules, with the
 * operator's allowed CIDRs). Private targets allowed by the operator are never forbidden.
 */
export async function checkProviderTarget(url: URL, settings: Partial<WebhookSettings> | undefined): Promise<TargetVerdict> {
  if (settings?.allowPrivate) return {};
  let addresses: Array<{ address: string }>;
  try {
    addresses = await hostAddresses(url.hostname, settings?.resolve ?? defaultResolve);
  } catch {
    return { unresolved: true };
  }
  if (addresses.length === 0) return { unresolved: true };
  const forbidden = firstForbidden(addresses, allowedCidrs(settings));
  return forbidden ? { forbidden } : {};
}

async function guardTenantBaseUrl(baseUrl: string, settings: WebhookSettings | undefined): Promise<Dispatcher | undefined> {
  if (settings?.allowPrivate) return undefined;
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new RunFailure('agent_misconfigured', "The tenant's provider base URL is not a valid URL.", { status: 422 });
  }
  const verdict = await checkProviderTarget(url, settings);
  if (verdict.forbidden) {
    const { address, reason } = verdict.forbidden;
    const via = address === bareHost(url.hostname) ? '' : ` resolves to ${address}, which`;
    throw new RunFailure(
      'provider_target_forbidden',
      `The tenant's provider base URL host ${url.host}${via} is a ${reason} address; private and loopback targets are refused unless the operator allows them.`,
      { status: 403 },
    );
  }
  if (verdict.unresolved) {
    throw new RunFailure('provider_unreachable', `Could not resolve the host of the tenant's provider base URL (${url.host}).`, {
      retryable: true,
      status: 502,
    });
  }
  return guardedDispatcher(settings);
}

const guarded = new WeakMap<object, Agent>();
const NO_SETTINGS = {};

/**
 * An undici Agent that refuses to connect to a forbidden address: IP-literal hosts are checked before connecting and
 * host names are resolved by a look-up that checks every answer, so a redirect or a DNS answer that changed after the
 * check cannot lead a tenant's provider call to a private address. One per settings object (its pool is reused).
 */
export function guardedDispatcher(settings: WebhookSettings | undefined): Agent {
  const key = settings ?? NO_SETTINGS;
  let agent = guarded.get(key);
  if (agent) return agent;
  const allowed = allowedCidrs(settings);
  const resolve = settings?.resolve ?? defaultResolve;
  const refused = (host: string, address: string, reason: string) =>
    Object.assign(new Error(`${host} is a ${reason} address (${address}): private and loopback targets are refused`), {
      code: 'EGCORP_TARGET_FORBIDDEN',
    });
  const lookup = ((hostname: string, opts: { all?: boolean; family?: number | string }, callback: (...args: unknown[]) => void) => {
    resolve(hostname).then(
      (answers) => {
        const family = opts?.family === 4 || opts?.family === 'IPv4' ? 4 : opts?.family === 6 || opts?.family === 'IPv6' ? 6 : 0;
        const usable = family ? answers.filter((a) => a.family === family) : answers;
        if (usable.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }));
          return;
        }
        for (const a of usable) {
          const verdict = checkAddress(a.address, allowed);
          if (verdict.forbidden) {
            callback(refused(hostname, a.address, verdict.reason ?? 'private'));
            return;
          }
        }
        if (opts?.all) callback(null, usable.map((a) => ({ address: a.address, family: a.family })));
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: unknown) => callback(err),
    );
  }) as unknown as LookupFunction;
  const base = buildConnector({ lookup });
  agent = new Agent({
    connect: (opts, callback) => {
      const host = bareHost(opts.hostname);
      if (parseIp(host)) {
        const verdict = checkAddress(host, allowed);
        if (verdict.forbidden) {
          callback(refused(opts.hostname, host, verdict.reason ?? 'private'), null);
          return;
        }
      }
      base(opts, callback);
    },
  });
  guarded.set(key, agent);
  return agent;
}
