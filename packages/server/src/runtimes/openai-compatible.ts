// Any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp, LiteLLM, OpenAI itself...): a small
// streaming client on undici and eventsource-parser (the `openai` package needs Node 22).
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { request, type Dispatcher } from 'undici';
import type { ModelRequest, ProviderCallOptions } from './anthropic.js';
import { RunFailure, type OpenAICompatibleSettings, type RunContext, type RunResult } from './types.js';
import { abortReason, backoffMs, dropBody, isPlainObject, nonNegativeInt, retryAfterMs, sleep } from './util.js';

const RETRY_BASE_MS = 500;
const MAX_RETRY_AFTER_MS = 30_000;
const MAX_ERROR_BODY = 64 * 1024;

export function chatCompletionsUrl(baseUrl: string): string {
  return new URL('chat/completions', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString();
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    if (size + buf.length > limit) {
      chunks.push(buf.subarray(0, limit - size));
      dropBody(body);
      break;
    }
    chunks.push(buf);
    size += buf.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorMessage(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (isPlainObject(parsed)) {
      const e = parsed.error;
      if (typeof e === 'string') return e;
      if (isPlainObject(e) && typeof e.message === 'string') return e.message;
      if (typeof parsed.message === 'string') return parsed.message;
      if (typeof parsed.detail === 'string') return parsed.detail;
    }
  } catch {
    // not JSON: the text itself, shortened
  }
  const trimmed = text.trim().replace(/\s+/g, ' ');
  return trimmed.length > 300 ? `${trimmed.slice(0, 300)}...` : trimmed || '(empty body)';
}

function statusFailure(status: number, message: string): RunFailure {
  const where = 'The OpenAI-compatible endpoint';
  if (status === 401 || status === 403) {
    return new RunFailure('provider_auth_failed', `${where} rejected the configured credentials (HTTP ${status}): ${message}`, {
      status: 502,
    });
  }
  if (status === 429) {
    return new RunFailure('provider_rate_limited', `${where} rate limit was reached: ${message}`, { retryable: true, status: 503 });
  }
  if (status === 529 || status === 503) {
    return new RunFailure('provider_overloaded', `${where} is overloaded (HTTP ${status}): ${message}`, {
      retryable: true,
      status: 503,
    });
  }
  if (status >= 500 || status === 408) {
    return new RunFailure('provider_error', `${where} failed with HTTP ${status}: ${message}`, { retryable: true, status: 502 });
  }
  return new RunFailure('provider_request_rejected', `${where} rejected the request (HTTP ${status}): ${message}`, {
    status: 502,
  });
}

function connectionFailure(err: unknown): RunFailure {
  const e = err as { code?: string; message?: string };
  if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new RunFailure('provider_timeout', `The OpenAI-compatible endpoint did not answer in time (${e.code}).`, {
      retryable: true,
      status: 504,
    });
  }
  const detail = e.code ? `${e.code}: ${e.message ?? ''}` : (e.message ?? String(err));
  return new RunFailure('provider_unreachable', `Could not reach the OpenAI-compatible endpoint (${detail.trim()}).`, {
    retryable: true,
    status: 502,
  });
}

interface StreamState {
  text: string;
  usage: { input_tokens: number; output_tokens: number } | null;
  finishReason: string | null;
  done: boolean;
}

/** Applies one parsed completion chunk; returns the text delta it carries ('' when none). */
function applyChunk(state: StreamState, chunk: unknown): string {
  if (!isPlainObject(chunk)) throw new RunFailure('provider_invalid_response', 'A stream chunk is not a JSON object.', { status: 502 });
  if (chunk.error !== undefined) {
    const e = chunk.error;
    const msg = typeof e === 'string' ? e : isPlainObject(e) && typeof e.message === 'string' ? e.message : JSON.stringify(e);
    throw new RunFailure('provider_error', `The OpenAI-compatible endpoint reported an error mid-stream: ${msg}`, {
      retryable: true,
      status: 502,
    });
  }
  if (isPlainObject(chunk.usage)) {
    state.usage = {
      input_tokens: nonNegativeInt(chunk.usage.prompt_tokens),
      output_tokens: nonNegativeInt(chunk.usage.completion_tokens),
    };
  }
  let delta = '';
  const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
  const first: unknown = choices[0];
  if (isPlainObject(first)) {
    const d = first.delta ?? first.message;
    if (isPlainObject(d) && typeof d.content === 'string') delta = d.content;
    if (typeof first.finish_reason === 'string') state.finishReason = first.finish_reason;
  }
  return delta;
}

export async function runOpenAICompatible(
  ctx: RunContext,
  settings: OpenAICompatibleSettings,
  req: ModelRequest,
  call: ProviderCallOptions,
): Promise<RunResult> {
  const { signal } = ctx;
  const url = chatCompletionsUrl(settings.baseUrl);
  const messages: Array<{ role: string; content: string }> = [];
  if (req.systemPrompt) messages.push({ role: 'system', content: req.systemPrompt });
  messages.push({ role: 'user', content: req.userMessage });
  const body = JSON.stringify({
    model: req.model,
    messages,
    max_tokens: req.maxTokens,
    stream: true,
    stream_options: { include_usage: true },
  });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    'user-agent': 'GenericCorp-Hub',
  };
  if (settings.apiKey) headers.authorization = `Bearer ${settings.apiKey}`;

  const state: StreamState = { text: '', usage: null, finishReason: null, done: false };
  try {
    let res: Dispatcher.ResponseData | undefined;
    for (let attempt = 1; ; attempt++) {
      let failure: RunFailure;
      let wait: number | undefined;
      try {
        res = await request(url, {
          method: 'POST',
          headers,
          body,
          signal,
          ...(call.dispatcher ? { dispatcher: call.dispatcher } : {}),
        });
      } catch (err) {
        if (signal.aborted) throw abortReason(signal);
        failure = connectionFailure(err);
        res = undefined;
      }
      if (res) {
        if (res.statusCode < 400) break;
        const text = await readLimited(res.body, MAX_ERROR_BODY);
        failure = statusFailure(res.statusCode, errorMessage(text));
        wait = retryAfterMs(res.headers);
      }
      if (!failure!.retryable || attempt > call.maxRetries) throw failure!;
      const delay = Math.min(MAX_RETRY_AFTER_MS, wait ?? backoffMs(attempt, RETRY_BASE_MS));
      ctx.log.warn({ provider: 'openai_compatible', attempt, delay_ms: delay, code: failure!.code }, 'provider call failed; retrying');
      await sleep(delay, signal);
    }

    const contentType = String(res.headers['content-type'] ?? '').toLowerCase();
    if (contentType.includes('application/json')) {
      // An endpoint that ignores `stream: true` answers with one completion object.
      const text = await readLimited(res.body, 16 * 1024 * 1024);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new RunFailure('provider_invalid_response', 'The OpenAI-compatible endpoint answered with invalid JSON.', { status: 502 });
      }
      const delta = applyChunk(state, parsed);
      if (delta) {
        state.text += delta;
        await ctx.emit({ type: 'run.output.delta', data: { delta } });
      }
      state.done = true;
    } else if (!contentType.includes('text/event-stream')) {
      dropBody(res.body);
      throw new RunFailure(
        'provider_invalid_response',
        `The OpenAI-compatible endpoint answered with ${contentType || 'no content type'} instead of an event stream.`,
        { status: 502 },
      );
    } else {
      const pending: string[] = [];
      let parseError: RunFailure | null = null;
      const parser = createParser({
        onEvent(ev: EventSourceMessage) {
          if (state.done || parseError) return;
          if (ev.data.trim() === '[DONE]') {
            state.done = true;
            return;
          }
          let chunk: unknown;
          try {
            chunk = JSON.parse(ev.data);
          } catch {
            parseError = new RunFailure('provider_invalid_response', 'A stream chunk from the OpenAI-compatible endpoint is not JSON.', {
              status: 502,
            });
            return;
          }
          try {
            const delta = applyChunk(state, chunk);
            if (delta) pending.push(delta);
          } catch (err) {
            parseError = err as RunFailure;
          }
        },
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body) {
        parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
        // Emit in order, one at a time, before reading further.
        while (pending.length > 0) {
          const delta = pending.shift()!;
          state.text += delta;
          await ctx.emit({ type: 'run.output.delta', data: { delta } });
        }
        if (parseError) throw parseError;
        if (state.done) break;
      }
      if (!state.done) {
        dropBody(res.body);
        if (state.finishReason === null) {
          throw new RunFailure('provider_error', 'The OpenAI-compatible stream ended before the completion finished.', {
            retryable: true,
            status: 502,
          });
        }
      } else {
        dropBody(res.body);
      }
    }
  } catch (err) {
    if (signal.aborted) throw abortReason(signal);
    if (err instanceof RunFailure) throw err;
    throw connectionFailure(err);
  }
  if (signal.aborted) throw abortReason(signal);

  if (state.finishReason === 'length') {
    await ctx.emit({
      type: 'run.log',
      data: { level: 'warn', message: `output truncated: the model reached max_tokens (${req.maxTokens})` },
    });
  }
  if (!state.usage) {
    await ctx.emit({
      type: 'run.log',
      data: { level: 'warn', message: 'the OpenAI-compatible endpoint reported no token usage; recorded as 0' },
    });
  }
  const usage = state.usage ?? { input_tokens: 0, output_tokens: 0 };
  await ctx.emit({ type: 'run.usage', data: usage });
  return { output: { text: state.text }, usage };
}
