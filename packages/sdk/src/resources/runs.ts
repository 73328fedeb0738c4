// Runs of agents: start, list, read, cancel, their events (a resumable SSE stream or JSON pages) and waiting for the end.
import { APIPromise, type WithResponse } from '../core/api-promise.js';
import { APIResponseParseError, GenericCorpError, type Problem } from '../core/error.js';
import type { PagePromise } from '../core/pagination.js';
import { path } from '../core/path.js';
import { APIResource } from '../core/resource.js';
import { ResumableStream, type SSEMessage } from '../core/streaming.js';
import type { Tolerant, UnknownString } from '../core/types.js';
import type { RequestOptions } from '../client.js';
import type { ListParams, Operations, Schemas } from './shared.js';

export type Run = Tolerant<Schemas['Run']>;
/** `queued` -> `running` -> `succeeded` | `failed` | `cancelled` | `timed_out`; a newer server may add states. */
export type RunStatus = Schemas['RunStatus'] | UnknownString;
export type RunUsage = Tolerant<Schemas['RunUsage']>;
export type RunCreateParams = Schemas['RunCreate'];
/** Filters of `runs.list`: `status`, `agent`, `created_after` (inclusive), `created_before` (exclusive), plus paging. */
export type RunListParams = NonNullable<Operations['listRuns']['parameters']['query']>;
export type RunEventListParams = ListParams & { after?: number };

export const TERMINAL_RUN_STATUSES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);

/**
 * Payload of each event type, as openapi.yaml's `listRunEvents` describes it (the schema itself types `data` as a bare
 * object). `run.usage` counts are cumulative.
 */
export interface RunEventDataByType {
  'run.queued': { attempt: number };
  'run.started': { attempt: number };
  /** A text fragment or a JSON value of the output. */
  'run.output.delta': { delta: unknown };
  'run.log': { level: 'debug' | 'info' | 'warn' | 'error' | UnknownString; message: string };
  'run.usage': RunUsage;
  'run.completed': { status: RunStatus; output: unknown; error: Tolerant<Problem> | null };
}
export type RunEventType = keyof RunEventDataByType;

type RunEventBase = Omit<Schemas['RunEvent'], 'type' | 'data'>;
/** One event of a run, narrowed by `type`: `if (event.type === 'run.log') event.data.message`. */
export type RunEvent = {
  [Type in RunEventType]: RunEventBase & { type: Type; data: RunEventDataByType[Type] };
}[RunEventType];

const EVENT_TYPES: ReadonlySet<string> = new Set<RunEventType>([
  'run.queued',
  'run.started',
  'run.output.delta',
  'run.log',
  'run.usage',
  'run.completed',
]);

export interface RunStreamOptions extends Pick<RequestOptions, 'timeout' | 'maxRetries' | 'headers'> {
  /** Resume after this event (its `seq`, the SSE id), e.g. one kept from an earlier stream's `lastEventId`. */
  lastEventId?: string | number | undefined;
  /** No byte for this long (the server sends a keep-alive every 15 s) counts as a dropped connection (default 45 000). */
  idleTimeoutMs?: number | undefined;
  /** Reconnections in a row without receiving an event before giving up with APIConnectionError (default 5). */
  maxReconnects?: number | undefined;
  /** Closes the stream; iteration then throws APIUserAbortError. */
  signal?: AbortSignal | undefined;
}

/** Events of a run as they happen; `for await` ends after `run.completed`. */
export type RunEventStream = ResumableStream<RunEvent>;

export interface RunWaitOptions extends Pick<RequestOptions, 'signal' | 'maxRetries' | 'headers'> {
  /**
   * Give up after this many milliseconds with RunWaitTimeoutError (which carries the run as last seen). Without it,
   * waits until the run finishes: every run has its own `timeout_seconds`, so it does.
   */
  timeoutMs?: number | undefined;
}

export type RunCreateAndWaitOptions = RequestOptions & Pick<RunWaitOptions, 'timeoutMs'>;

/** `runs.wait()` ran out of `timeoutMs` before the run finished. */
export class RunWaitTimeoutError extends GenericCorpError {
  override name = 'RunWaitTimeoutError';
  constructor(
    /** The run as the last poll saw it (still queued or running). */
    readonly run: Run,
    timeoutMs: number,
  ) {
    super(`Run ${run.id} is still ${run.status} after ${timeoutMs} ms.`);
  }
}

const DEFAULT_IDLE_TIMEOUT_MS = 45_000;
const DEFAULT_MAX_RECONNECTS = 5;
// The server answers a long poll after at most `timeout` seconds (max 300); each call waits up to this long.
const WAIT_POLL_SECONDS = 60;
// "Clients should allow a few seconds more than `timeout` for the answer."
const WAIT_SLACK_MS = 15_000;

export class RunsResource extends APIResource {
  /**
   * `POST /v1/runs` (scope `runs:write`): queues a run of `agent` with `input`. The Idempotency-Key (generated, or
   * yours in `options.idempotencyKey`) makes retries never start a second run. QuotaExceededError when a plan limit
   * would be passed.
   */
  create(body: RunCreateParams, options?: RequestOptions): APIPromise<Run> {
    return this._client._call({ ...options, method: 'POST', path: '/v1/runs', body, operation: 'runs.create' });
  }

  /** `GET /v1/runs`, newest first; `for await` walks every page. */
  list(params?: RunListParams, options?: RequestOptions): PagePromise<Run> {
    return this._client._list('/v1/runs', params, options, 'runs.list');
  }

  /** `GET /v1/runs/{id}`: the run as it is now. */
  get(id: string, options?: RequestOptions): APIPromise<Run> {
    return this._client._call({ ...options, method: 'GET', path: path`/v1/runs/${id}`, operation: 'runs.get' });
  }

  /**
   * `POST /v1/runs/{id}/cancel`: a queued run is cancelled at once (status 200); a running one is stopping (202,
   * `withResponse()` tells which) and a `run.completed` event follows. ConflictError `run_finished` when it is over.
   */
  cancel(id: string, options?: RequestOptions): APIPromise<Run> {
    return this._client._call({ ...options, method: 'POST', path: path`/v1/runs/${id}/cancel`, operation: 'runs.cancel' });
  }

  /** `GET /v1/runs/{id}/events` as JSON pages: the events stored so far (after `after`), for reading history. */
  events(id: string, params?: RunEventListParams, options?: RequestOptions): PagePromise<RunEvent> {
    return this._client._list(path`/v1/runs/${id}/events`, params, options, 'runs.events');
  }

  /**
   * The run's events as they happen, from Server-Sent Events: replays stored events (after `lastEventId`), follows
   * the run live, and ends after `run.completed`. A dropped or silent connection is resumed with Last-Event-ID, so no
   * event is lost or repeated. Event types newer than this SDK are skipped (logged at debug level).
   *
   * ```ts
   * for await (const event of gc.runs.stream(run.id)) {
   *   if (event.type === 'run.output.delta') process.stdout.write(String(event.data.delta));
   * }
   * ```
   */
  stream(id: string, options: RunStreamOptions = {}): RunEventStream {
    const logger = this._client.logger;
    const lastEventId = options.lastEventId === undefined ? undefined : String(options.lastEventId);
    let lastSeq = lastEventId !== undefined && /^\d+$/.test(lastEventId) ? Number(lastEventId) : 0;
    const decode = (message: SSEMessage): RunEvent | undefined => {
      let event: unknown;
      try {
        event = JSON.parse(message.data);
      } catch (cause) {
        throw new APIResponseParseError(`runs.stream: event ${message.id ?? '(no id)'} of run ${id} is not JSON: ${message.data.slice(0, 200)}`, {
          cause,
        });
      }
      const { seq, type } = (event ?? {}) as { seq?: unknown; type?: unknown };
      if (typeof seq !== 'number' || typeof type !== 'string') {
        throw new APIResponseParseError(`runs.stream: event ${message.id ?? '(no id)'} of run ${id} has no seq or type: ${message.data.slice(0, 200)}`);
      }
      if (seq <= lastSeq) return undefined; // already delivered before a reconnect
      lastSeq = seq;
      if (!EVENT_TYPES.has(type)) {
        logger.debug(`runs.stream: skipping event type ${type} (seq ${seq}), unknown to this SDK version.`);
        return undefined;
      }
      return event as RunEvent;
    };
    return new ResumableStream<RunEvent>({
      connect: (resumeAfter, signal) =>
        this._client._stream({
          method: 'GET',
          path: path`/v1/runs/${id}/events`,
          headers: { ...options.headers, accept: 'text/event-stream', 'cache-control': 'no-cache', 'last-event-id': resumeAfter },
          signal,
          timeout: options.timeout,
          maxRetries: options.maxRetries,
          operation: 'runs.stream',
        }),
      decode,
      isFinal: (event) => event.type === 'run.completed',
      lastEventId,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      maxReconnects: options.maxReconnects ?? DEFAULT_MAX_RECONNECTS,
      signal: options.signal,
      logger,
      description: `run ${id} events`,
    });
  }

  /**
   * Waits until the run is in a terminal state and answers it, by long polls of `GET /v1/runs/{id}/wait`
   * (202 means "not yet"). With `timeoutMs`, gives up with RunWaitTimeoutError.
   */
  wait(id: string, options: RunWaitOptions = {}): APIPromise<Run> {
    return new APIPromise(this.#wait(id, options));
  }

  /** `create` then `wait`: the finished run. The Idempotency-Key protects the create against duplicate runs. */
  createAndWait(body: RunCreateParams, options: RunCreateAndWaitOptions = {}): APIPromise<Run> {
    const { timeoutMs, ...requestOptions } = options;
    const result = this.create(body, requestOptions)
      .withResponse()
      .then(({ data }) =>
        this.#wait(data.id, { timeoutMs, signal: options.signal, maxRetries: options.maxRetries, headers: options.headers }),
      );
    return new APIPromise(result);
  }

  async #wait(id: string, options: RunWaitOptions): Promise<WithResponse<Run>> {
    const { timeoutMs, ...requestOptions } = options;
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    let last: Run | undefined;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 && last !== undefined) throw new RunWaitTimeoutError(last, timeoutMs ?? 0);
      const seconds = Math.min(WAIT_POLL_SECONDS, Math.max(1, Math.ceil(remaining / 1000)));
      const result = await this._client
        ._call<Run>({
          ...requestOptions,
          method: 'GET',
          path: path`/v1/runs/${id}/wait`,
          query: { timeout: seconds },
          timeout: Math.max(this._client.timeout, seconds * 1000 + WAIT_SLACK_MS),
          operation: 'runs.wait',
        })
        .withResponse();
      if (result.response.status !== 202) return result;
      last = result.data;
    }
  }
}
