// Anthropic Messages API through the official SDK: streams text deltas, records token usage.
import Anthropic, { APIConnectionError, APIConnectionTimeoutError, APIError, AnthropicError } from '@anthropic-ai/sdk';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import { RunFailure, type AnthropicSettings, type RunContext, type RunResult } from './types.js';
import { abortReason } from './util.js';

export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';

export interface ModelRequest {
  model: string;
  systemPrompt: string;
  maxTokens: number;
  userMessage: string;
}

export interface ProviderCallOptions {
  maxRetries: number;
  dispatcher?: Dispatcher | undefined;
}

export async function runAnthropic(
  ctx: RunContext,
  settings: AnthropicSettings,
  req: ModelRequest,
  call: ProviderCallOptions,
): Promise<RunResult> {
  const { signal } = ctx;
  const dispatcher = call.dispatcher;
  const client = new Anthropic({
    apiKey: settings.apiKey,
    baseURL: settings.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL,
    maxRetries: call.maxRetries,
    logLevel: 'warn',
    logger: {
      error: (msg: string) => ctx.log.error({ provider: 'anthropic' }, msg),
      warn: (msg: string) => ctx.log.warn({ provider: 'anthropic' }, msg),
      info: (msg: string) => ctx.log.info({ provider: 'anthropic' }, msg),
      debug: () => undefined,
    },
    ...(dispatcher
      ? {
          // The SDK takes a WHATWG fetch; undici's is one, with a dispatcher option the global fetch lacks.
          fetch: ((input: string | URL | Request, init?: RequestInit) =>
            undiciFetch(
              input as Parameters<typeof undiciFetch>[0],
              { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher },
            )) as unknown as typeof fetch,
        }
      : {}),
  });

  let text = '';
  let stopReason: string | null = null;
  let usage = { input_tokens: 0, output_tokens: 0 };
  try {
    const stream = client.messages.stream(
      {
        model: req.model,
        max_tokens: req.maxTokens,
        ...(req.systemPrompt ? { system: req.systemPrompt } : {}),
        messages: [{ role: 'user', content: req.userMessage }],
      },
      { signal },
    );
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta' && event.delta.text) {
        text += event.delta.text;
        await ctx.emit({ type: 'run.output.delta', data: { delta: event.delta.text } });
      }
    }
    // Rejects when the stream failed or was aborted, including while an emit was being awaited.
    const final = await stream.finalMessage();
    stopReason = final.stop_reason;
    usage = {
      input_tokens:
        (final.usage.input_tokens ?? 0) +
        (final.usage.cache_creation_input_tokens ?? 0) +
        (final.usage.cache_read_input_tokens ?? 0),
      output_tokens: final.usage.output_tokens ?? 0,
    };
  } catch (err) {
    if (signal.aborted) throw abortReason(signal);
    throw anthropicFailure(err);
  }
  if (signal.aborted) throw abortReason(signal);
  if (stopReason === 'max_tokens') {
    await ctx.emit({
      type: 'run.log',
      data: { level: 'warn', message: `output truncated: the model reached max_tokens (${req.maxTokens})` },
    });
  } else if (stopReason === 'refusal') {
    await ctx.emit({ type: 'run.log', data: { level: 'warn', message: 'the model declined to answer (refusal)' } });
  }
  await ctx.emit({ type: 'run.usage', data: usage });
  return { output: { text }, usage };
}

function describe(err: APIError): string {
  const msg = err.apiMessage ?? err.message;
  return err.requestID ? `${msg} (request id ${err.requestID})` : msg;
}

/** Maps an SDK error to the run's failure: auth, rate limit, overload, 5xx, connection, bad request. */
export function anthropicFailure(err: unknown): RunFailure {
  if (err instanceof RunFailure) return err;
  if (err instanceof APIConnectionTimeoutError) {
    return new RunFailure('provider_timeout', 'The Anthropic API did not answer in time.', { retryable: true, status: 504 });
  }
  if (err instanceof APIConnectionError) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return new RunFailure('provider_unreachable', `Could not connect to the Anthropic API${cause}.`, {
      retryable: true,
      status: 502,
    });
  }
  if (err instanceof APIError) {
    const status = err.status;
    if (status === 401 || status === 403) {
      return new RunFailure(
        'provider_auth_failed',
        `The Anthropic API rejected the configured credentials (HTTP ${status}): ${describe(err)}`,
        { status: 502 },
      );
    }
    if (status === 429 || err.type === 'rate_limit_error') {
      return new RunFailure('provider_rate_limited', `The Anthropic API rate limit was reached: ${describe(err)}`, {
        retryable: true,
        status: 503,
      });
    }
    if (status === 529 || err.type === 'overloaded_error') {
      return new RunFailure('provider_overloaded', `The Anthropic API is overloaded: ${describe(err)}`, {
        retryable: true,
        status: 503,
      });
    }
    if ((status !== undefined && status >= 500) || err.type === 'api_error' || status === 408) {
      const what = status !== undefined ? `HTTP ${status}` : 'a stream error';
      return new RunFailure('provider_error', `The Anthropic API failed with ${what}: ${describe(err)}`, {
        retryable: true,
        status: 502,
      });
    }
    if (status !== undefined) {
      return new RunFailure(
        'provider_request_rejected',
        `The Anthropic API rejected the request (HTTP ${status}): ${describe(err)}`,
        { status: 502 },
      );
    }
    return new RunFailure('provider_error', `The Anthropic stream failed: ${describe(err)}`, { status: 502 });
  }
  if (err instanceof SyntaxError || err instanceof AnthropicError) {
    return new RunFailure('provider_invalid_response', `Invalid response from the Anthropic API: ${err.message}`, {
      status: 502,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new RunFailure('provider_error', `The Anthropic call failed: ${message}`, { status: 502 });
}
