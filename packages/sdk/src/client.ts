// The GenericCorp client: options, credentials, the undici transport, retries, timeouts and response decoding.
import { randomUUID } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import { APIPromise, type WithResponse } from './core/api-promise.js';
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIResponseParseError,
  APIUserAbortError,
  GenericCorpError,
  MissingCredentialsError,
  OAuthError,
  type Problem,
  type ResponseHeaders,
} from './core/error.js';
import { isLogLevel, LeveledLogger, redactBody, redactHeaders, type Logger, type LogLevel } from './core/logger.js';
import { Page, PagePromise, type ListBody } from './core/pagination.js';
import { fillTemplate, queryString, type Query } from './core/path.js';
import { APIResponse, normalizeHeaders } from './core/response.js';
import { IDEMPOTENCY_IN_FLIGHT_CODE, isRetryableStatus, retryDelayMs, sleep } from './core/retry.js';
import type { StreamConnection } from './core/streaming.js';
import type { Tolerant } from './core/types.js';
import type { paths } from './generated/openapi.js';
import { AdminResource } from './resources/admin.js';
import { AgentsResource } from './resources/agents.js';
import { ApiKeysResource } from './resources/api-keys.js';
import { AuthResource } from './resources/auth.js';
import { BootstrapResource } from './resources/bootstrap.js';
import { HealthResource } from './resources/health.js';
import { MeResource } from './resources/me.js';
import { MembersResource } from './resources/members.js';
import { RunsResource } from './resources/runs.js';
import { TenantResource } from './resources/tenant.js';
import { UsageResource } from './resources/usage.js';
import { VERSION } from './version.js';

export const DEFAULT_BASE_URL = 'http://127.0.0.1:4100';
export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RETRIES = 2;

export interface ClientOptions {
  /** API key (`gc_live_…`). Defaults to the GCORP_API_KEY environment variable; `null` means none, env ignored. */
  apiKey?: string | null | undefined;
  /** A user's access token (from login or the device flow), instead of an API key. */
  accessToken?: string | null | undefined;
  /** The hub's URL. Defaults to GCORP_BASE_URL, then http://127.0.0.1:4100. */
  baseUrl?: string | undefined;
  /** Milliseconds one attempt of a request may take, response body included (default 60 000). */
  timeout?: number | undefined;
  /** Retries after connection errors, 408, 409 (idempotent request in flight), 429 and 5xx (default 2). */
  maxRetries?: number | undefined;
  /**
   * An undici Dispatcher for every request: `new EnvHttpProxyAgent()` for proxies, `new Agent({ connect: { cert, key,
   * ca } })` for mTLS. By default the client makes its own keep-alive Agent, which `close()` closes.
   */
  dispatcher?: Dispatcher | undefined;
  /** Where log lines go (default `console`). */
  logger?: Logger | undefined;
  /** `debug` logs every request and response with secrets redacted. Defaults to GCORP_LOG, then `warn`. */
  logLevel?: LogLevel | undefined;
  /** Headers sent with every request (a request's own headers win). */
  defaultHeaders?: Record<string, string> | undefined;
}

/** Per-call options every method takes as its last argument. */
export interface RequestOptions {
  /** Milliseconds for each attempt; overrides the client's `timeout`. */
  timeout?: number | undefined;
  /** Overrides the client's `maxRetries`. */
  maxRetries?: number | undefined;
  /** Aborts the call (and its retries) with APIUserAbortError. */
  signal?: AbortSignal | undefined;
  /** Extra headers; `null` removes a default one. */
  headers?: Record<string, string | null | undefined> | undefined;
  /**
   * For POSTs: the Idempotency-Key to send. By default one is generated per call and reused on each retry, so a retry
   * never performs the operation twice; pass your own to make retries across processes safe too.
   */
  idempotencyKey?: string | undefined;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

/** What a resource asks the client to do; the machinery behind every method. */
export interface CallOptions extends RequestOptions {
  method: HttpMethod;
  /** Path below the base URL, already encoded (`/v1/runs/run_…`). */
  path: string;
  query?: Query | undefined;
  /** JSON request body. */
  body?: unknown;
  /** application/x-www-form-urlencoded request body (the OAuth endpoints). */
  form?: Record<string, string | undefined> | undefined;
  /** `required` (default): fail before sending when no credential is configured; `none`: send none; `optional`. */
  auth?: 'required' | 'none' | 'optional';
  /** Operation name for messages (`runs.get`). */
  operation?: string | undefined;
  /** `json` (default) parses a JSON body; `text` reads text; `auto` follows the content type; `stream` hands back the body. */
  responseType?: 'json' | 'text' | 'auto' | 'stream';
  /** `oauth`: error bodies may be RFC 6749 `{ error, error_description }` objects. */
  errorFormat?: 'problem' | 'oauth';
  /**
   * `all` (default): retry whenever the status or error allows. `unsent`: only when the server cannot have acted on
   * the request (connection refused, 429): for operations that are neither idempotent nor take an Idempotency-Key.
   */
  retry?: 'all' | 'unsent';
  /** Error statuses answered with their body instead of an error (e.g. 503 of `GET /readyz`). */
  acceptStatuses?: readonly number[] | undefined;
}

type Lower<M extends string> = Lowercase<M>;
type SpecMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** Paths of openapi.yaml that have an operation for `method`. */
export type PathsFor<M extends SpecMethod> = {
  [P in keyof paths]: paths[P][M] extends { responses: unknown } ? P : never;
}[keyof paths];
type OperationAt<P extends keyof paths, M extends SpecMethod> = NonNullable<paths[P][M]>;
type SuccessStatus = 200 | 201 | 202 | 203 | 204;
type BodyOfResponse<R> = R extends { content: infer C }
  ? C extends { 'application/json': infer J }
    ? J
    : C[keyof C]
  : undefined;
/** The body type of an operation's 2xx responses. */
export type SuccessBody<O> = O extends { responses: infer R }
  ? { [S in keyof R & SuccessStatus]: BodyOfResponse<R[S]> }[keyof R & SuccessStatus]
  : unknown;
type PathParamsOf<O> = O extends { parameters: { path: infer PP } } ? PP : never;
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
type RequestBodyOf<O> = O extends { requestBody?: infer RB }
  ? [NonNullable<RB>] extends [never]
    ? never
    : NonNullable<RB> extends { content: infer C }
      ? C[keyof C]
      : never
  : never;
type IsFormBody<O> = O extends { requestBody?: infer RB }
  ? NonNullable<RB> extends { content: { 'application/x-www-form-urlencoded': unknown } }
    ? true
    : false
  : false;
type BodyRequired<O> = O extends { requestBody: unknown } ? true : false;
type BodyPart<O> = [RequestBodyOf<O>] extends [never]
  ? { body?: undefined; form?: undefined }
  : IsFormBody<O> extends true
    ? BodyRequired<O> extends true
      ? { form: RequestBodyOf<O> }
      : { form?: RequestBodyOf<O> }
    : BodyRequired<O> extends true
      ? { body: RequestBodyOf<O> }
      : { body?: RequestBodyOf<O> };
/** Options of `request()` for one operation of the spec: `params` for `{id}`, `query`, `body` or `form`. */
export type TypedRequestOptions<O> = RequestOptions &
  ([PathParamsOf<O>] extends [never] ? { params?: undefined } : { params: PathParamsOf<O> }) &
  ([QueryOf<O>] extends [never] ? { query?: undefined } : { query?: QueryOf<O> }) &
  BodyPart<O> & { auth?: 'required' | 'none' | 'optional' };

export interface RawRequestOptions extends RequestOptions {
  /** Values for `{name}` segments of `path`. */
  params?: Record<string, string | number> | undefined;
  query?: Query | undefined;
  body?: unknown;
  form?: Record<string, string | undefined> | undefined;
  /** Default `optional`: the credential is sent when one is configured. */
  auth?: 'required' | 'none' | 'optional';
}

const SDK_USER_AGENT = `genericcorp-sdk-node/${VERSION} node/${process.versions.node} (${process.platform}; ${process.arch})`;
const JSON_MEDIA = /^application\/(?:[\w.+-]+\+)?json$/i;
// Connection failures where the request never reached the server, so even a non-idempotent request may be re-sent.
const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'ENETUNREACH', 'EHOSTUNREACH']);
const SNIPPET = 500;

function readEnv(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
}

function mediaTypeOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const raw = headers['content-type'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  const semi = value.indexOf(';');
  return (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
}

function isProblemLike(value: unknown): value is Problem {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as Record<string, unknown>).status === 'number' &&
    (typeof (value as Record<string, unknown>).code === 'string' || typeof (value as Record<string, unknown>).title === 'string')
  );
}

function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function snippet(text: string): string {
  return JSON.stringify(text.length > SNIPPET ? `${text.slice(0, SNIPPET)}…` : text);
}

function positiveNumber(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new GenericCorpError(`${name} must be a positive number of milliseconds, got ${String(value)}.`);
  }
  return value;
}

function retryCount(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new GenericCorpError(`maxRetries must be an integer >= 0, got ${String(value)}.`);
  return value;
}

export class GenericCorp {
  /** The hub's URL, without a trailing slash. */
  readonly baseUrl: string;
  readonly timeout: number;
  readonly maxRetries: number;
  readonly logger: LeveledLogger;

  /** Liveness, readiness, metrics, the OpenAPI document. */
  readonly health: HealthResource = new HealthResource(this);
  /** One-time set-up of a fresh instance. */
  readonly bootstrap: BootstrapResource = new BootstrapResource(this);
  /** Login, refresh, logout, the OAuth token endpoint and the device flow. */
  readonly auth: AuthResource = new AuthResource(this);
  /** The caller. */
  readonly me: MeResource = new MeResource(this);
  /** The caller's tenant. */
  readonly tenant: TenantResource = new TenantResource(this);
  readonly members: MembersResource = new MembersResource(this);
  /** Instance administration (instance admin only). */
  readonly admin: AdminResource = new AdminResource(this);
  readonly apiKeys: ApiKeysResource = new ApiKeysResource(this);
  readonly agents: AgentsResource = new AgentsResource(this);
  readonly runs: RunsResource = new RunsResource(this);
  readonly usage: UsageResource = new UsageResource(this);

  #options: ClientOptions;
  #dispatcher: Dispatcher;
  #ownsDispatcher: boolean;
  #origin: string;
  #basePath: string;
  #credential: string | undefined;
  #headersWithAuth: Record<string, string>;
  #headersWithoutAuth: Record<string, string>;

  constructor(options: ClientOptions = {}) {
    const apiKey = options.apiKey === undefined ? readEnv('GCORP_API_KEY') : (options.apiKey ?? undefined);
    const accessToken = options.accessToken ?? undefined;
    if (options.apiKey && accessToken) {
      throw new GenericCorpError('Pass either apiKey or accessToken, not both.');
    }
    // An explicit access token wins over an API key found in the environment.
    this.#credential = accessToken ?? apiKey;

    const baseUrl = options.baseUrl ?? readEnv('GCORP_BASE_URL') ?? DEFAULT_BASE_URL;
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new GenericCorpError(`baseUrl must be an absolute http(s) URL such as ${DEFAULT_BASE_URL}, got ${JSON.stringify(baseUrl)}.`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new GenericCorpError(`baseUrl must use http or https, got ${JSON.stringify(baseUrl)}.`);
    }
    if (url.search || url.hash) throw new GenericCorpError(`baseUrl must not have a query or fragment, got ${JSON.stringify(baseUrl)}.`);
    this.#origin = url.origin;
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.baseUrl = this.#origin + this.#basePath;

    this.timeout = positiveNumber('timeout', options.timeout, DEFAULT_TIMEOUT_MS);
    this.maxRetries = retryCount(options.maxRetries, DEFAULT_MAX_RETRIES);

    const envLevel = readEnv('GCORP_LOG')?.toLowerCase();
    const level = options.logLevel ?? (isLogLevel(envLevel) ? envLevel : 'warn');
    if (!isLogLevel(level)) throw new GenericCorpError(`logLevel must be one of off, error, warn, info, debug; got ${String(level)}.`);
    this.logger = new LeveledLogger(options.logger ?? console, level);

    this.#options = options;
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connect: { timeout: 10_000 } });

    const base: Record<string, string> = { accept: 'application/json', 'user-agent': SDK_USER_AGENT };
    for (const [name, value] of Object.entries(options.defaultHeaders ?? {})) base[name.toLowerCase()] = value;
    this.#headersWithoutAuth = base;
    this.#headersWithAuth = this.#credential === undefined ? base : { ...base, authorization: `Bearer ${this.#credential}` };
  }

  /** Whether an API key or access token is configured. */
  get hasCredential(): boolean {
    return this.#credential !== undefined;
  }

  /**
   * A client with some options changed (another credential, timeout, ...) that shares this one's connection pool,
   * unless a dispatcher is given. Closing the copy does not close the shared pool.
   */
  withOptions(options: ClientOptions): GenericCorp {
    const merged: ClientOptions = { ...this.#options, baseUrl: this.baseUrl, ...options };
    if (options.accessToken !== undefined && options.apiKey === undefined) merged.apiKey = null;
    if (options.apiKey !== undefined && options.accessToken === undefined) merged.accessToken = undefined;
    if (options.dispatcher === undefined) merged.dispatcher = this.#dispatcher;
    return new GenericCorp(merged);
  }

  /** Closes the client's own connection pool (a dispatcher passed in options is left open). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /**
   * A request to any path of the API. With a path template of openapi.yaml (`/v1/runs/{id}`) the options and the
   * result are typed from the spec; any other path answers `unknown` (or the type you name).
   *
   * ```ts
   * const run = await gc.request('get', '/v1/runs/{id}', { params: { id } });
   * ```
   */
  request<M extends SpecMethod | Uppercase<SpecMethod>, P extends PathsFor<Lower<M>>>(
    method: M,
    path: P,
    ...options: Record<never, never> extends TypedRequestOptions<OperationAt<P, Lower<M>>>
      ? [options?: TypedRequestOptions<OperationAt<P, Lower<M>>>]
      : [options: TypedRequestOptions<OperationAt<P, Lower<M>>>]
  ): APIPromise<Tolerant<SuccessBody<OperationAt<P, Lower<M>>>>>;
  // A path template of the spec must go through the typed signature above (so a missing `{id}` is caught).
  request<T = unknown, P extends string = string>(
    method: string,
    path: P & (P extends keyof paths ? never : unknown),
    options?: RawRequestOptions,
  ): APIPromise<T>;
  request(method: string, path: string, options?: object): APIPromise<unknown> {
    const { params, query, body, form, auth, ...rest } = (options ?? {}) as RawRequestOptions;
    return this._call({
      ...rest,
      method: method.toUpperCase() as HttpMethod,
      path: fillTemplate(path.startsWith('/') ? path : `/${path}`, params),
      query,
      body,
      form,
      auth: auth ?? 'optional',
      responseType: 'auto',
    });
  }

  /** @internal The one way resources make requests. */
  _call<T>(options: CallOptions): APIPromise<T> {
    return new APIPromise(this.#send(options) as Promise<WithResponse<T>>);
  }

  /** @internal A cursor-paginated list: `query` plus `cursor` for every following page. */
  _list<Item>(path: string, query: Query | undefined, options: RequestOptions | undefined, operation: string): PagePromise<Item> {
    const fetchPage = (cursor: string | undefined): PagePromise<Item> => {
      const pageQuery = cursor === undefined ? query : { ...query, cursor };
      const result = this.#send({ ...options, method: 'GET', path, query: pageQuery, operation }).then(
        ({ data, response }) => ({ data: new Page<Item>(data as ListBody<Item>, response, fetchPage), response }),
      );
      return new PagePromise<Item>(result);
    };
    return fetchPage(undefined);
  }

  /** @internal Opens an event stream: the response body once the headers are in, with a way to close it. */
  async _stream(options: CallOptions): Promise<StreamConnection> {
    const { data } = await this.#send({ ...options, responseType: 'stream' });
    return data as StreamConnection;
  }

  async #send(options: CallOptions): Promise<WithResponse<unknown>> {
    const operation = options.operation ?? `${options.method} ${options.path}`;
    const auth = options.auth ?? 'required';
    if (auth === 'required' && this.#credential === undefined) throw new MissingCredentialsError(operation);

    const method = options.method;
    const requestPath = this.#basePath + options.path + queryString(options.query);
    const url = this.#origin + requestPath;

    let headers = auth === 'none' ? this.#headersWithoutAuth : this.#headersWithAuth;
    let body: string | undefined;
    const extra = options.headers;
    const idempotent = method === 'POST' && options.form === undefined;
    if (options.form !== undefined || options.body !== undefined || idempotent || extra !== undefined) {
      headers = { ...headers };
      if (options.form !== undefined) {
        const form = new URLSearchParams();
        for (const [name, value] of Object.entries(options.form)) if (value !== undefined) form.append(name, value);
        body = form.toString();
        headers['content-type'] = 'application/x-www-form-urlencoded';
      } else if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] = 'application/json';
      }
      // One key per call, the same on every retry: the server replays the first response instead of acting twice.
      if (idempotent) headers['idempotency-key'] = options.idempotencyKey ?? randomUUID();
      if (extra !== undefined) {
        for (const [name, value] of Object.entries(extra)) {
          if (value === null) delete headers[name.toLowerCase()];
          else if (value !== undefined) headers[name.toLowerCase()] = value;
        }
      }
    }

    const timeout = positiveNumber('timeout', options.timeout, this.timeout);
    const maxRetries = retryCount(options.maxRetries, this.maxRetries);
    const userSignal = options.signal;
    const log = this.logger;
    if (log.debugEnabled) {
      log.debug(`→ ${method} ${url}`, {
        headers: redactHeaders(headers),
        ...(options.body !== undefined ? { body: redactBody(options.body) } : {}),
        ...(options.form !== undefined ? { form: redactBody(options.form) } : {}),
      });
    }

    for (let attempt = 1; ; attempt++) {
      if (userSignal?.aborted) throw new APIUserAbortError(undefined, { cause: userSignal.reason });
      const started = log.debugEnabled ? performance.now() : 0;
      const controller = new AbortController();
      let timedOut = false;
      const onUserAbort = () => controller.abort(userSignal?.reason);
      userSignal?.addEventListener('abort', onUserAbort, { once: true });
      let timer: NodeJS.Timeout | undefined = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeout);
      const cleanUp = () => {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        userSignal?.removeEventListener('abort', onUserAbort);
      };

      let error: APIError;
      let errorHeaders: ResponseHeaders | undefined;
      let retryable: boolean;
      let sent = true;
      let handedOver = false;
      try {
        const response = await this.#dispatcher.request({
          origin: this.#origin,
          path: requestPath,
          method,
          headers,
          body,
          signal: controller.signal,
          // The timer above bounds each attempt; streams are watched for silence by their reader instead.
          headersTimeout: 0,
          bodyTimeout: 0,
        });
        const status = response.statusCode;
        if ((status >= 200 && status < 300) || options.acceptStatuses?.includes(status)) {
          const apiResponse = new APIResponse(status, response.headers, method, url, attempt);
          if (options.responseType === 'stream') {
            const mediaType = mediaTypeOf(response.headers);
            if (mediaType !== 'text/event-stream') {
              const text = await response.body.text();
              throw new APIResponseParseError(
                `${operation}: expected an event stream (text/event-stream), got ${status} ${mediaType ?? 'without content type'}: ${snippet(text)}`,
                { status, headers: normalizeHeaders(response.headers), body: text.slice(0, 2000) },
              );
            }
            // From here on the body belongs to the stream reader: no timer, but the caller's signal still aborts it.
            if (timer !== undefined) clearTimeout(timer);
            timer = undefined;
            handedOver = true;
            const connection: StreamConnection = {
              body: response.body,
              close: () => {
                userSignal?.removeEventListener('abort', onUserAbort);
                if (!response.body.destroyed) response.body.destroy();
              },
            };
            if (log.debugEnabled) log.debug(`← ${status} ${method} ${url} (stream)`, { requestId: apiResponse.requestId });
            return { data: connection, response: apiResponse };
          }
          const text = await response.body.text();
          const data = this.#decodeBody(status, response.headers, text, options, operation);
          if (log.debugEnabled) {
            log.debug(`← ${status} ${method} ${url} in ${Math.round(performance.now() - started)} ms`, {
              requestId: apiResponse.requestId,
              body: redactBody(data),
            });
          }
          return { data, response: apiResponse };
        }

        let text = '';
        try {
          text = await response.body.text();
        } catch {
          // A cut error body still leaves the status to report.
        }
        errorHeaders = normalizeHeaders(response.headers);
        error = this.#errorFromResponse(status, errorHeaders, text, options.errorFormat);
        retryable = isRetryableStatus(status) && (status !== 409 || error.code === IDEMPOTENCY_IN_FLIGHT_CODE);
        // Only a 429 says for sure that the server did nothing with the request.
        sent = status !== 429;
        if (log.debugEnabled) {
          log.debug(`← ${status} ${method} ${url} in ${Math.round(performance.now() - started)} ms`, {
            requestId: error.requestId,
            problem: error.problem,
          });
        }
      } catch (caught) {
        if (caught instanceof GenericCorpError) throw caught;
        if (userSignal?.aborted) throw new APIUserAbortError(undefined, { cause: userSignal.reason });
        const code = errorCode(caught);
        if (timedOut || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
          error = new APIConnectionTimeoutError(`${operation}: no complete response from ${this.#origin} within ${timeout} ms.`, {
            cause: caught,
          });
        } else {
          error = new APIConnectionError(this.#describeConnectionError(operation, caught, code), { cause: caught });
        }
        retryable = true;
        sent = !UNSENT_CODES.has(code ?? '');
        if (log.debugEnabled) log.debug(`✗ ${method} ${url}: ${error.message}`);
      } finally {
        if (!handedOver) cleanUp();
      }

      const retriesLeft = maxRetries - (attempt - 1);
      if (!retryable || retriesLeft <= 0 || (options.retry === 'unsent' && sent)) throw error;
      const delay = retryDelayMs(attempt - 1, errorHeaders);
      if (delay === undefined) throw error; // the server asked for a longer wait than a retry should hide
      log.info(
        `${operation} failed (${error.status ?? error.name}${error.code ? ` ${error.code}` : ''}); retrying in ${Math.round(delay)} ms (${retriesLeft} ${retriesLeft === 1 ? 'retry' : 'retries'} left).`,
      );
      await sleep(delay, userSignal);
    }
  }

  #decodeBody(
    status: number,
    headers: Record<string, string | string[] | undefined>,
    text: string,
    options: CallOptions,
    operation: string,
  ): unknown {
    const responseType = options.responseType ?? 'json';
    const mediaType = mediaTypeOf(headers);
    if (responseType === 'text') return text;
    const isJson = mediaType !== undefined && JSON_MEDIA.test(mediaType);
    if (responseType === 'auto' && !isJson) return text === '' && status === 204 ? undefined : text;
    if (status === 204 || status === 205) return undefined;
    if (!isJson) {
      throw new APIResponseParseError(
        `${operation}: expected JSON, got a ${status} response with ${mediaType ? `a ${mediaType} body` : 'no content type'}` +
          `${mediaType === 'text/html' ? ' (a proxy or another server may be answering: check baseUrl)' : ''}: ${snippet(text)}`,
        { status, headers: normalizeHeaders(headers), body: text.slice(0, 2000) },
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new APIResponseParseError(
        `${operation}: the ${status} response is not valid JSON (cut short?): ${snippet(text)}`,
        { status, headers: normalizeHeaders(headers), body: text.slice(0, 2000), cause },
      );
    }
  }

  #errorFromResponse(status: number, headers: ResponseHeaders, text: string, format: CallOptions['errorFormat']): APIError {
    const mediaType = headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    let parsed: unknown;
    if (mediaType !== undefined && JSON_MEDIA.test(mediaType) && text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (format === 'oauth' && mediaType !== 'application/problem+json' && typeof parsed === 'object' && parsed !== null) {
      const { error, error_description: description } = parsed as { error?: unknown; error_description?: unknown };
      if (typeof error === 'string') {
        return new OAuthError(error, typeof description === 'string' ? description : undefined, { status, headers });
      }
    }
    if (isProblemLike(parsed)) return APIError.fromResponse(status, headers, parsed, undefined);
    return APIError.fromResponse(status, headers, undefined, text.slice(0, 2000));
  }

  #describeConnectionError(operation: string, error: unknown, code: string | undefined): string {
    const where = this.#origin;
    switch (code) {
      case 'ECONNREFUSED':
        return `${operation}: could not connect to ${where} (connection refused): is the hub running there, and is baseUrl right?`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `${operation}: could not resolve the host of ${where}: check baseUrl.`;
      case 'ECONNRESET':
      case 'UND_ERR_SOCKET':
      case 'EPIPE':
        return `${operation}: the connection to ${where} was closed before the response was complete.`;
      default: {
        const message = error instanceof Error ? error.message : String(error);
        return `${operation}: connection error with ${where}${code ? ` (${code})` : ''}: ${message}`;
      }
    }
  }
}

export default GenericCorp;
