// Server-Sent Events: decoding with eventsource-parser, and a stream that resumes with Last-Event-ID after a drop.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { APIConnectionError, APIConnectionTimeoutError, APIUserAbortError, GenericCorpError, type APIError } from './error.js';
import type { LeveledLogger } from './logger.js';
import { backoffMs, sleep } from './retry.js';

export type SSEMessage = EventSourceMessage;

/** One open event stream: its body, and how to close it early. */
export interface StreamConnection {
  body: AsyncIterable<Uint8Array | string>;
  close(): void;
}

interface DecodeHooks {
  /** Called for every chunk of bytes, comments (`: keep-alive`) included. */
  onActivity?: () => void;
  /** The server's `retry:` field, in milliseconds. */
  onRetry?: (ms: number) => void;
}

/** The SSE messages of a byte stream. An unterminated last message (the connection cut mid-frame) is dropped. */
export async function* decodeSSE(body: AsyncIterable<Uint8Array | string>, hooks: DecodeHooks = {}): AsyncGenerator<SSEMessage> {
  const pending: SSEMessage[] = [];
  const parser = createParser({
    onEvent: (message) => pending.push(message),
    onRetry: (ms) => hooks.onRetry?.(ms),
  });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    hooks.onActivity?.();
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    while (pending.length > 0) yield pending.shift()!;
  }
}

export interface ResumableStreamOptions<T> {
  /** Opens the stream, resuming after `lastEventId` when given. Errors it throws that are not connection errors end the stream. */
  connect(lastEventId: string | undefined, signal: AbortSignal): Promise<StreamConnection>;
  /** Turns a message into an item, or undefined to skip it (heartbeats, duplicates, unknown types). */
  decode(message: SSEMessage): T | undefined;
  /** The item after which the server closes the stream; iteration ends there. */
  isFinal(item: T): boolean;
  lastEventId?: string | undefined;
  /** No bytes (events or keep-alive comments) for this long counts as a dropped connection. */
  idleTimeoutMs: number;
  /** Reconnections allowed in a row without an event in between. */
  maxReconnects: number;
  signal?: AbortSignal | undefined;
  logger: LeveledLogger;
  /** For messages: `run run_123 events`. */
  description: string;
}

/**
 * An async iterable of decoded events that survives dropped connections: when the connection breaks, ends before the
 * final event, or stays silent past `idleTimeoutMs`, it reconnects with the last event id seen (bounded attempts,
 * exponential backoff) and carries on. Breaking out of `for await` closes the connection.
 */
export class ResumableStream<T> implements AsyncIterable<T> {
  #options: ResumableStreamOptions<T>;
  #controller = new AbortController();
  #lastEventId: string | undefined;
  #started = false;

  #onCallerAbort: (() => void) | undefined;

  constructor(options: ResumableStreamOptions<T>) {
    this.#options = options;
    this.#lastEventId = options.lastEventId;
    const signal = options.signal;
    if (signal?.aborted) this.#controller.abort(signal.reason);
    else if (signal) {
      this.#onCallerAbort = () => this.#controller.abort(signal.reason);
      signal.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
  }

  /** Id of the last event received: pass it as `lastEventId` to resume this stream elsewhere. */
  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  /** Closes the stream; a pending `for await` ends with APIUserAbortError. */
  abort(reason?: unknown): void {
    this.#controller.abort(reason);
  }

  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    if (this.#started) throw new TypeError('This stream is already being iterated; open another one to read it twice.');
    this.#started = true;
    return this.#iterate();
  }

  async *#iterate(): AsyncGenerator<T, void, undefined> {
    const { logger, idleTimeoutMs, maxReconnects, description } = this.#options;
    const signal = this.#controller.signal;
    let failures = 0;
    let serverRetryMs: number | undefined;
    try {
      for (;;) {
        let cause: APIError;
        let connection: StreamConnection | undefined;
        let idleTimer: NodeJS.Timeout | undefined;
        let timedOut = false;
        const stopIdle = () => {
          if (idleTimer !== undefined) clearTimeout(idleTimer);
          idleTimer = undefined;
        };
        const armIdle = () => {
          stopIdle();
          idleTimer = setTimeout(() => {
            idleTimer = undefined;
            timedOut = true;
            connection?.close();
          }, idleTimeoutMs);
        };
        try {
          connection = await this.#options.connect(this.#lastEventId, signal);
          armIdle();
          const messages = decodeSSE(connection.body, {
            onActivity: armIdle,
            onRetry: (ms) => {
              serverRetryMs = ms;
            },
          });
          for await (const message of messages) {
            if (message.id !== undefined && message.id !== '') this.#lastEventId = message.id;
            const item = this.#options.decode(message);
            if (item === undefined) continue;
            failures = 0;
            // The consumer's time with an item is not the server's silence.
            stopIdle();
            yield item;
            if (this.#options.isFinal(item)) return;
            armIdle();
          }
          cause = timedOut
            ? idleError(description, idleTimeoutMs)
            : new APIConnectionError(`The ${description} stream ended before its final event.`);
        } catch (error) {
          if (signal.aborted) throw new APIUserAbortError('The stream was aborted.', { cause: signal.reason });
          if (timedOut) cause = idleError(description, idleTimeoutMs);
          else if (error instanceof APIConnectionError) cause = error;
          // HTTP errors (404, 401, ...) and malformed events end the stream: reconnecting would not change them.
          else if (error instanceof GenericCorpError || !(error instanceof Error)) throw error;
          else cause = new APIConnectionError(`The ${description} stream broke: ${error.message}`, { cause: error });
        } finally {
          stopIdle();
          connection?.close();
        }
        failures += 1;
        if (failures > maxReconnects) {
          throw new APIConnectionError(
            `The ${description} stream dropped ${failures} times in a row; last: ${cause.message}`,
            { cause },
          );
        }
        const delay = serverRetryMs ?? backoffMs(failures - 1);
        logger.info(
          `${cause.message} Reconnecting in ${Math.round(delay)} ms after event ${this.#lastEventId ?? '(none)'} (attempt ${failures} of ${maxReconnects}).`,
        );
        await sleep(delay, signal);
      }
    } finally {
      // Iteration is over either way: stop listening to the caller's signal.
      if (this.#onCallerAbort) this.#options.signal?.removeEventListener('abort', this.#onCallerAbort);
      this.#controller.abort();
    }
  }
}

function idleError(description: string, idleTimeoutMs: number): APIConnectionTimeoutError {
  return new APIConnectionTimeoutError(`The ${description} stream sent nothing (not even a keep-alive) for ${idleTimeoutMs} ms.`);
}
