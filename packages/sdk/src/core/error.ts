// Typed errors: one APIError class with a subclass per status family, plus connection, timeout, abort and OAuth errors.
import type { components } from '../generated/openapi.js';

/** An RFC 9457 problem document, as every hub error carries (fields a newer server adds are kept). */
export type Problem = components['schemas']['Problem'] & Record<string, unknown>;
export type FieldError = components['schemas']['FieldError'];
/** RFC 6749 section 5.2 / RFC 8628 section 3.5 error codes; a newer server may send others. */
export type OAuthErrorCode = components['schemas']['OAuthError']['error'] | (string & Record<never, never>);

/** Lower-case header names to values, as the server sent them (repeated headers joined with `, `). */
export type ResponseHeaders = Record<string, string>;

/** Every error this SDK throws is a GenericCorpError. */
export class GenericCorpError extends Error {
  override name = 'GenericCorpError';
}

/** No credential was configured for an operation that needs one; thrown before any request is sent. */
export class MissingCredentialsError extends GenericCorpError {
  override name = 'MissingCredentialsError';
  constructor(operation: string) {
    super(
      `${operation} needs a credential, and none is configured: pass \`apiKey\` (or \`accessToken\`) to ` +
        '`new GenericCorp({ ... })`, or set the GCORP_API_KEY environment variable.',
    );
  }
}

interface APIErrorInit {
  status?: number | undefined;
  headers?: ResponseHeaders | undefined;
  problem?: Problem | undefined;
  /** Machine code when there is no problem document (an OAuth error's `error`). */
  code?: string | undefined;
  /** Body text of a response that was not a problem document (an HTML page from a proxy, say), abridged. */
  body?: string | undefined;
  cause?: unknown;
}

/** An error tied to an HTTP exchange: a response with an error status, or a request that got no usable response. */
export class APIError extends GenericCorpError {
  override name = 'APIError';
  /** HTTP status; undefined when no response arrived (connection errors, timeouts, aborts). */
  readonly status: number | undefined;
  /** Response headers, lower-case names; empty when no response arrived. */
  readonly headers: ResponseHeaders;
  /** The RFC 9457 problem document of the response, when it was one. */
  readonly problem: Problem | undefined;
  /** The problem's stable machine code (`not_found`, `quota_exceeded`, ...). */
  readonly code: string | undefined;
  /** The server's id for the request (`X-Request-Id`); quote it when reporting a problem. */
  readonly requestId: string | undefined;
  /** Abridged body of an error response that was not a problem document. */
  readonly body: string | undefined;

  constructor(message: string, init: APIErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.headers = init.headers ?? {};
    this.problem = init.problem;
    this.code = init.problem?.code ?? init.code;
    this.requestId = init.problem?.request_id ?? this.headers['x-request-id'];
    this.body = init.body;
  }

  /** The problem's `request_id` (same as `requestId`). */
  get request_id(): string | undefined {
    return this.requestId;
  }

  get title(): string | undefined {
    return this.problem?.title;
  }

  get detail(): string | undefined {
    return this.problem?.detail;
  }

  /** Builds the subclass that fits a response's status and problem. */
  static fromResponse(status: number, headers: ResponseHeaders, problem: Problem | undefined, body: string | undefined): APIError {
    const message = describeResponse(status, headers, problem, body);
    const init: APIErrorInit = { status, headers, problem, body };
    if (status === 400) {
      return Array.isArray(problem?.errors) && problem.errors.length > 0
        ? new ValidationError(message, init)
        : new BadRequestError(message, init);
    }
    if (status === 401) return new AuthenticationError(message, init);
    if (status === 402) return new QuotaExceededError(message, init);
    if (status === 403) return new PermissionDeniedError(message, init);
    if (status === 404) return new NotFoundError(message, init);
    if (status === 408) return new RequestTimeoutError(message, init);
    if (status === 409) return new ConflictError(message, init);
    if (status === 413) return new PayloadTooLargeError(message, init);
    if (status === 422) return new UnprocessableEntityError(message, init);
    if (status === 429) return new RateLimitError(message, init);
    if (status >= 500) return new InternalServerError(message, init);
    return new APIError(message, init);
  }
}

export class BadRequestError extends APIError {
  override name = 'BadRequestError';
}

/** 400 `validation_failed`: `errors` lists every invalid field as a JSON pointer (`/body/name`). */
export class ValidationError extends BadRequestError {
  override name = 'ValidationError';
  get errors(): FieldError[] {
    return this.problem?.errors ?? [];
  }
}

export class AuthenticationError extends APIError {
  override name = 'AuthenticationError';
}

/** 402 `quota_exceeded`: a hard limit of the plan would be passed; nothing was started. `detail` names the quota. */
export class QuotaExceededError extends APIError {
  override name = 'QuotaExceededError';
}

export class PermissionDeniedError extends APIError {
  override name = 'PermissionDeniedError';
}

export class NotFoundError extends APIError {
  override name = 'NotFoundError';
}

export class RequestTimeoutError extends APIError {
  override name = 'RequestTimeoutError';
}

export class ConflictError extends APIError {
  override name = 'ConflictError';
}

export class PayloadTooLargeError extends APIError {
  override name = 'PayloadTooLargeError';
}

export class UnprocessableEntityError extends APIError {
  override name = 'UnprocessableEntityError';
}

/** 429: the rate limit is used up. `retryAfter` is the server's `Retry-After`, in seconds. */
export class RateLimitError extends APIError {
  override name = 'RateLimitError';
  get retryAfter(): number | undefined {
    const ms = parseRetryAfterMs(this.headers['retry-after']);
    return ms === undefined ? undefined : Math.ceil(ms / 1000);
  }
}

/** 5xx. */
export class InternalServerError extends APIError {
  override name = 'InternalServerError';
}

/** No response: the connection could not be made, or it broke before the response was complete. */
export class APIConnectionError extends APIError {
  override name = 'APIConnectionError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
  }
}

/** The request took longer than its `timeout`. */
export class APIConnectionTimeoutError extends APIConnectionError {
  override name = 'APIConnectionTimeoutError';
}

/** The caller's AbortSignal fired. */
export class APIUserAbortError extends APIError {
  override name = 'APIUserAbortError';
  constructor(message = 'The request was aborted.', options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
  }
}

/** A successful status whose body could not be read as the operation's media type (HTML from a proxy, cut JSON, ...). */
export class APIResponseParseError extends APIError {
  override name = 'APIResponseParseError';
}

/**
 * An OAuth endpoint's RFC 6749 section 5.2 error (`POST /v1/auth/device/code`, `POST /v1/auth/token`): `error` is
 * `authorization_pending`, `slow_down`, `access_denied`, `expired_token`, `invalid_grant`, ...
 */
export class OAuthError extends APIError {
  override name = 'OAuthError';
  readonly error: OAuthErrorCode;
  readonly errorDescription: string | undefined;

  constructor(
    error: OAuthErrorCode,
    errorDescription: string | undefined,
    init: { status?: number | undefined; headers?: ResponseHeaders | undefined } = {},
  ) {
    const status = init.status === undefined ? '' : `${init.status} `;
    super(`${status}${error}${errorDescription ? `: ${errorDescription}` : ''}`, { ...init, code: error });
    this.error = error;
    this.errorDescription = errorDescription;
  }

  /** `error` doubles as the machine code, like a problem's `code`. */
  override get title(): string | undefined {
    return this.error;
  }
}

const SNIPPET_LENGTH = 200;

function describeResponse(status: number, headers: ResponseHeaders, problem: Problem | undefined, body: string | undefined): string {
  const requestId = problem?.request_id ?? headers['x-request-id'];
  const suffix = requestId ? ` (request ${requestId})` : '';
  if (problem) {
    const text = problem.detail || problem.title;
    const fields =
      Array.isArray(problem.errors) && problem.errors.length > 0
        ? `: ${problem.errors.map((e) => `${e.field} ${e.message}`).join('; ')}`
        : '';
    return `${status} ${problem.code}: ${text}${fields}${suffix}`;
  }
  const contentType = headers['content-type']?.split(';')[0]?.trim();
  const what = contentType ? `a ${contentType} body` : 'no content type';
  const hint = contentType === 'text/html' ? ' (a proxy or another server may be answering: check baseUrl)' : '';
  const snippet = body ? `: ${JSON.stringify(body.length > SNIPPET_LENGTH ? `${body.slice(0, SNIPPET_LENGTH)}…` : body)}` : '';
  return `${status} status with ${what} instead of a problem document${hint}${snippet}${suffix}`;
}

/** `Retry-After` as delay-seconds or an HTTP date, in milliseconds; undefined when absent or unreadable. */
export function parseRetryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
