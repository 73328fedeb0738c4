// The one interface every agent runtime implements (builtin, model, webhook), and the error a run fails with.
import type { Dispatcher } from 'undici';

/** What a runtime may emit while it runs; the runs core stores each as a run event with the next `seq`. */
export type EmittedEvent =
  | { type: 'run.output.delta'; data: { delta: string } | { delta: unknown } }
  | { type: 'run.log'; data: { level: 'debug' | 'info' | 'warn' | 'error'; message: string } }
  | { type: 'run.usage'; data: { input_tokens: number; output_tokens: number } };

export interface AgentDefinition {
  id: string;
  name: string;
  kind: 'builtin' | 'template' | 'custom';
  runtime: 'builtin' | 'model' | 'webhook';
  description: string;
  input_schema: object | null;
  config: Record<string, unknown>;
}

/** A pino-compatible logger (only the methods the runtimes call). */
export interface RuntimeLogger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface RunContext {
  runId: string;
  tenantId: string;
  attempt: number;
  agent: AgentDefinition;
  input: unknown;
  metadata: Record<string, string>;
  /** Aborted on cancellation or timeout; a runtime then rejects promptly with `signal.reason`. */
  signal: AbortSignal;
  /** Resolves once the event is stored; runtimes await it so events keep their order. */
  emit(e: EmittedEvent): Promise<void>;
  log: RuntimeLogger;
}

export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
}

export interface RunResult {
  output: unknown;
  usage: TokenUsage;
}

export interface Runtime {
  execute(ctx: RunContext): Promise<RunResult>;
}

export interface RunFailureOptions {
  /** The failure is transient (provider overloaded, connection refused...): another attempt may succeed. */
  retryable?: boolean;
  /** HTTP status that best describes the failure, for the run's problem object (default 500). */
  status?: number;
}

/** Short titles per failure code, for the run's problem object (`title` is the same for every occurrence). */
export const RUN_FAILURE_TITLES: Record<string, string> = {
  agent_failed: 'Agent failed',
  invalid_input: 'Invalid run input',
  agent_misconfigured: 'Agent misconfigured',
  provider_not_configured: 'Model provider not configured',
  provider_auth_failed: 'Model provider rejected the credentials',
  provider_rate_limited: 'Model provider rate limit',
  provider_overloaded: 'Model provider overloaded',
  provider_error: 'Model provider error',
  provider_unreachable: 'Model provider unreachable',
  provider_target_forbidden: 'Model provider target forbidden',
  provider_timeout: 'Model provider timed out',
  provider_request_rejected: 'Model provider rejected the request',
  provider_invalid_response: 'Invalid model provider response',
  webhook_target_forbidden: 'Webhook target forbidden',
  webhook_invalid_url: 'Invalid webhook URL',
  webhook_unreachable: 'Webhook unreachable',
  webhook_timeout: 'Webhook timed out',
  webhook_http_error: 'Webhook answered with an error',
  webhook_too_many_redirects: 'Too many webhook redirects',
  webhook_response_too_large: 'Webhook response too large',
  webhook_invalid_response: 'Invalid webhook response',
};

/** Why a run failed: `code` becomes the problem's `code` (and `type`), `detail` its human explanation. */
export class RunFailure extends Error {
  override name = 'RunFailure';
  /** The failure is transient: another attempt may succeed. */
  readonly retryable: boolean;
  /** HTTP status for the run's problem object. */
  readonly status: number;
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly opts: RunFailureOptions = {},
  ) {
    super(`${code}: ${detail}`);
    this.retryable = opts.retryable ?? false;
    this.status = opts.status ?? 500;
  }

  /** Short title of the failure code (the same for every occurrence). */
  get title(): string {
    return RUN_FAILURE_TITLES[this.code] ?? 'Run failed';
  }
}

export interface AnthropicSettings {
  apiKey: string;
  /** Defaults to https://api.anthropic.com. */
  baseUrl?: string;
  defaultModel: string;
}

export interface OpenAICompatibleSettings {
  /** Base URL of the chat-completions API, e.g. `http://127.0.0.1:11434/v1` (requests go to `<baseUrl>/chat/completions`). */
  baseUrl: string;
  apiKey?: string;
  defaultModel: string;
}

export interface ProviderSettings {
  anthropic?: AnthropicSettings;
  openaiCompatible?: OpenAICompatibleSettings;
}

export interface WebhookSettings {
  /** Allow private, loopback, link-local... targets (self-hosted setups where the endpoint is on the same network). */
  allowPrivate: boolean;
  /** Per-attempt timeout (connect, headers and body); an agent's `config.timeout_seconds` overrides it. */
  timeoutMs: number;
  /** Total attempts per delivery (first try included) on connection errors, timeouts, 429 and 5xx. */
  maxAttempts: number;
  /** Largest accepted reply body. */
  maxResponseBytes: number;
  /** Base of the exponential backoff between attempts (default 500 ms; doubled per attempt, with jitter, capped at 10 s). */
  retryBaseMs?: number;
  /** CIDRs (`10.1.2.0/24`, `fd00::/64`, `127.0.0.2/32`) allowed even though private, when `allowPrivate` is false. */
  allowedCidrs?: string[];
  /** Resolver used for the SSRF check (default `dns.lookup` with `all: true`); the connection is pinned to its answer. */
  resolve?: (hostname: string) => Promise<Array<{ address: string; family: number }>>;
}

export interface RuntimeOptions {
  providers: ProviderSettings;
  /** A tenant's own provider settings; each provider it sets replaces the instance's one for that tenant. */
  tenantProviders?: (tenantId: string) => Promise<Partial<ProviderSettings> | null>;
  webhook: WebhookSettings;
  /** undici dispatcher for model-provider HTTP calls (proxy, tests); default: the global one. */
  fetchDispatcher?: Dispatcher;
  /** Retries of a provider call that failed before streaming began (429, 5xx, connection); default 2. */
  providerMaxRetries?: number;
}

/** The runtimes of the hub: `forAgent` picks the one an agent's `runtime` names. */
export interface Runtimes {
  forAgent(agent: AgentDefinition, tenantId: string): Runtime;
}
