// When and how long to wait before trying a request again.
import { APIUserAbortError, parseRetryAfterMs, type ResponseHeaders } from './error.js';

/** Problem code of a 409 that means "the first request with this Idempotency-Key is still being processed". */
export const IDEMPOTENCY_IN_FLIGHT_CODE = 'idempotency_key_in_use';
/** A server asking for a longer wait than this is not retried: the error goes to the caller, who can decide. */
export const MAX_RETRY_AFTER_MS = 60_000;
const INITIAL_DELAY_MS = 500;
const MAX_DELAY_MS = 8_000;

/**
 * Statuses worth another try (409 only with the in-flight idempotency code, checked by the caller). 501 and 505 are
 * 5xx but say the server will never do this, so another try would only add delay.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/**
 * Delay before retry number `retry` (0-based): the server's Retry-After (or retry-after-ms) when it gave one,
 * otherwise exponential backoff from 0.5 s, capped at 8 s, with up to 25% jitter so clients spread out.
 * Returns undefined when the server asked for more than MAX_RETRY_AFTER_MS.
 */
export function retryDelayMs(retry: number, headers: ResponseHeaders | undefined): number | undefined {
  const retryAfterMs = headers?.['retry-after-ms'];
  let serverDelay = retryAfterMs !== undefined && /^\d+(\.\d+)?$/.test(retryAfterMs.trim()) ? Number(retryAfterMs) : undefined;
  serverDelay ??= parseRetryAfterMs(headers?.['retry-after']);
  if (serverDelay !== undefined) return serverDelay > MAX_RETRY_AFTER_MS ? undefined : serverDelay;
  return backoffMs(retry);
}

export function backoffMs(retry: number, initial = INITIAL_DELAY_MS, max = MAX_DELAY_MS): number {
  const base = Math.min(initial * 2 ** retry, max);
  return base * (1 - Math.random() * 0.25);
}

/** Resolves after `ms`, or rejects with APIUserAbortError as soon as `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  if (signal?.aborted) return Promise.reject(new APIUserAbortError(undefined, { cause: signal.reason }));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new APIUserAbortError(undefined, { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
