// What a caller can see of an HTTP response besides its parsed body: status, headers, request id.
import type { ResponseHeaders } from './error.js';

type RawHeaders = Record<string, string | string[] | undefined>;

/** Lower-case names; repeated headers joined with `, ` (`set-cookie` joined too, which is enough for reading). */
export function normalizeHeaders(raw: RawHeaders): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (const name in raw) {
    const value = raw[name];
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export class APIResponse {
  #raw: RawHeaders;
  #headers: Headers | undefined;
  #record: ResponseHeaders | undefined;

  constructor(
    /** HTTP status of the final attempt. */
    readonly status: number,
    raw: RawHeaders,
    readonly method: string,
    /** Full URL of the request, query string included. */
    readonly url: string,
    /** How many attempts the call took (1 when it was not retried). */
    readonly attempts: number,
  ) {
    this.#raw = raw;
  }

  /** The response headers as a WHATWG Headers object (built on first use). */
  get headers(): Headers {
    if (!this.#headers) {
      this.#headers = new Headers();
      for (const [name, value] of Object.entries(this.headerRecord)) this.#headers.set(name, value);
    }
    return this.#headers;
  }

  /** The response headers as a plain object with lower-case names. */
  get headerRecord(): ResponseHeaders {
    return (this.#record ??= normalizeHeaders(this.#raw));
  }

  /** The `X-Request-Id` the server gave the request. */
  get requestId(): string | undefined {
    const value = this.#raw['x-request-id'];
    return Array.isArray(value) ? value[0] : value;
  }
}
