// The `model` runtime: a prompt-based agent on Anthropic or an OpenAI-compatible endpoint.
import { runAnthropic, type ModelRequest } from './anthropic.js';
import { runOpenAICompatible } from './openai-compatible.js';
import { resolveProvider } from './providers.js';
import { RunFailure, type RunContext, type RunResult, type Runtime, type RuntimeOptions } from './types.js';
import { abortReason, renderInput } from './util.js';

export const DEFAULT_MAX_TOKENS = 4096;

/** `model` values meaning "the provider's default model" (templates use `default`, as they run on any provider). */
const DEFAULT_MODEL_NAMES = new Set(['', 'default']);

export interface ModelAgentConfig {
  provider: 'anthropic' | 'openai_compatible' | null;
  model: string;
  systemPrompt: string;
  maxTokens: number;
}

export function parseModelConfig(config: Record<string, unknown>): ModelAgentConfig {
  const provider = config.provider ?? null;
  if (provider !== null && provider !== 'anthropic' && provider !== 'openai_compatible') {
    throw new RunFailure('agent_misconfigured', `Unknown model provider ${JSON.stringify(provider)}.`, { status: 422 });
  }
  const model = config.model ?? '';
  if (typeof model !== 'string') throw new RunFailure('agent_misconfigured', 'config.model must be a string.', { status: 422 });
  const systemPrompt = config.system_prompt ?? '';
  if (typeof systemPrompt !== 'string') {
    throw new RunFailure('agent_misconfigured', 'config.system_prompt must be a string.', { status: 422 });
  }
  const maxTokens = config.max_tokens ?? DEFAULT_MAX_TOKENS;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new RunFailure('agent_misconfigured', 'config.max_tokens must be a positive integer.', { status: 422 });
  }
  return { provider, model: model.trim(), systemPrompt, maxTokens };
}

export function createModelRuntime(options: RuntimeOptions): Runtime {
  const maxRetries = options.providerMaxRetries ?? 2;
  return {
    async execute(ctx: RunContext): Promise<RunResult> {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      const config = parseModelConfig(ctx.agent.config);
      const resolved = await resolveProvider(options, ctx.tenantId, config.provider);
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      const req: ModelRequest = {
        model: DEFAULT_MODEL_NAMES.has(config.model) ? resolved.settings.defaultModel : config.model,
        systemPrompt: config.systemPrompt,
        maxTokens: config.maxTokens,
        userMessage: renderInput(ctx.input),
      };
      const call = { maxRetries, dispatcher: resolved.dispatcher ?? options.fetchDispatcher };
      ctx.log.info({ provider: resolved.provider, model: req.model }, 'model run starting');
      return resolved.provider === 'anthropic'
        ? runAnthropic(ctx, resolved.settings, req, call)
        : runOpenAICompatible(ctx, resolved.settings, req, call);
    },
  };
}
