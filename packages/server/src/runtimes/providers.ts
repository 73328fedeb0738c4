// Model-provider settings: the environment variables that configure them, and which provider a run uses.
import type { AnthropicSettings, OpenAICompatibleSettings, ProviderSettings, RuntimeOptions } from './types.js';
import { RunFailure } from './types.js';

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

export type ResolvedProvider =
  | { provider: 'anthropic'; settings: AnthropicSettings }
  | { provider: 'openai_compatible'; settings: OpenAICompatibleSettings };

function notConfigured(requested: 'anthropic' | 'openai_compatible' | null): RunFailure {
  const a = PROVIDER_ENV_VARS.anthropic;
  const o = PROVIDER_ENV_VARS.openaiCompatible;
  const anthropicHow = `set ${a.apiKey} (optionally ${a.baseUrl} and ${a.defaultModel})`;
  const openaiHow = `set ${o.baseUrl} and ${o.defaultModel} (optionally ${o.apiKey})`;
  const detail =
    requested === 'anthropic'
      ? `This agent uses the Anthropic provider, which is not configured on this instance or tenant; ${anthropicHow}.`
      : requested === 'openai_compatible'
        ? `This agent uses an OpenAI-compatible provider, which is not configured on this instance or tenant; ${openaiHow}.`
        : `No model provider is configured on this instance or tenant; ${anthropicHow}, or ${openaiHow} for an OpenAI-compatible endpoint.`;
  return new RunFailure('provider_not_configured', detail, { status: 503 });
}

/**
 * The provider a model agent runs on: the agent's `provider`, or the default (Anthropic when configured, else the
 * OpenAI-compatible endpoint). A tenant's own settings for a provider replace the instance's for that provider.
 */
export async function resolveProvider(
  options: Pick<RuntimeOptions, 'providers' | 'tenantProviders'>,
  tenantId: string,
  requested: 'anthropic' | 'openai_compatible' | null,
): Promise<ResolvedProvider> {
  const tenant = options.tenantProviders ? await options.tenantProviders(tenantId) : null;
  const anthropic = tenant?.anthropic ?? options.providers.anthropic;
  const openai = tenant?.openaiCompatible ?? options.providers.openaiCompatible;
  if ((requested === 'anthropic' || requested === null) && anthropic) return { provider: 'anthropic', settings: anthropic };
  if ((requested === 'openai_compatible' || requested === null) && openai)
    return { provider: 'openai_compatible', settings: openai };
  throw notConfigured(requested);
}
