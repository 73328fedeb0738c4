// Agent runtimes behind one interface: `builtin` (echo), `model` (Anthropic, OpenAI-compatible) and `webhook`.
import { createEchoRuntime } from './echo.js';
import { createModelRuntime } from './model.js';
import { RunFailure, type AgentDefinition, type Runtime, type RuntimeOptions, type Runtimes } from './types.js';
import { raceAbort } from './util.js';
import { createWebhookRuntime } from './webhook.js';

export * from './types.js';
export { ECHO_AGENT, ECHO_INPUT_SCHEMA, ECHO_LIMITS } from './echo.js';
export { TEMPLATE_AGENTS, SHIPPED_AGENTS } from './templates.js';
export { DEFAULT_MAX_TOKENS, parseModelConfig } from './model.js';
export { DEFAULT_ANTHROPIC_MODEL, PROVIDER_ENV_VARS, providerSettingsFromEnv, resolveProvider } from './providers.js';
export {
  verifyWebhookSignature,
  signWebhookPayload,
  interpretReply,
  parseWebhookConfig,
  SIGNATURE_HEADER,
  RUN_ID_HEADER,
  WEBHOOK_USER_AGENT,
  MAX_REDIRECTS,
} from './webhook.js';
export { checkAddress, parseCidr } from './ssrf.js';
export { stableAgentId } from './util.js';

/** Builtin agents by name (only `echo` for now). */
const BUILTINS: Record<string, () => Runtime> = { echo: createEchoRuntime };

/**
 * Every runtime rejects with the signal's reason the moment the run is aborted, even while it waits on something that
 * cannot be interrupted (a DNS look-up, a slow tenant-settings query); the runtimes also stop their own work then.
 */
function abortable(runtime: Runtime): Runtime {
  return { execute: (ctx) => raceAbort(runtime.execute(ctx), ctx.signal) };
}

export function createRuntimes(options: RuntimeOptions): Runtimes {
  const builtins = new Map<string, Runtime>(Object.entries(BUILTINS).map(([name, make]) => [name, abortable(make())]));
  const model = abortable(createModelRuntime(options));
  const webhook = abortable(createWebhookRuntime(options.webhook));
  const unknown = (detail: string): Runtime => ({
    execute: () => Promise.reject(new RunFailure('agent_misconfigured', detail, { status: 422 })),
  });
  return {
    forAgent(agent: AgentDefinition, _tenantId: string): Runtime {
      switch (agent.runtime) {
        case 'builtin':
          return builtins.get(agent.name) ?? unknown(`There is no builtin agent named ${agent.name}.`);
        case 'model':
          return model;
        case 'webhook':
          return webhook;
        default:
          return unknown(`Unknown runtime ${JSON.stringify((agent as { runtime: unknown }).runtime)}.`);
      }
    },
  };
}
