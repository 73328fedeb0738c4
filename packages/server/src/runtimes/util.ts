// Small helpers shared by the runtimes: abortable waits and input rendering.
import { createHash } from 'node:crypto';

/** The reason of an aborted signal, as something throwable (an Error when the reason is missing). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Waits `ms`, rejecting with the signal's reason as soon as it is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Races a promise against the signal: rejects with the signal's reason the moment it is aborted, even when the
 * underlying work does not react to the signal itself.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** The user message a model receives for a run input: strings as they are, anything else as pretty JSON. */
export function renderInput(input: unknown): string {
  if (typeof input === 'string') return input;
  if (input === undefined) return '';
  return JSON.stringify(input, null, 2);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function nonNegativeInt(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0;
}

/** Exponential backoff with full jitter: base * 2^(n-1), capped, then a random value in [cap/2, cap]. */
export function backoffMs(attempt: number, baseMs: number, capMs = 10_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** `Retry-After` (seconds or HTTP date) or `retry-after-ms` in milliseconds, when present and sane. */
export function retryAfterMs(headers: Record<string, string | string[] | undefined> | Headers): number | undefined {
  const get = (name: string): string | undefined => {
    if (headers instanceof Headers) return headers.get(name) ?? undefined;
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const ms = get('retry-after-ms');
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return Number(ms);
  const ra = get('retry-after');
  if (ra === undefined) return undefined;
  if (/^\d+$/.test(ra.trim())) return Number(ra.trim()) * 1000;
  const date = Date.parse(ra);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A stable id for an agent shipped with the hub (the same in every tenant and on every instance): `agt_`, ten zeros
 * (time 0, so shipped agents sort before any created one), then 16 Crockford base32 chars of SHA-256 of the name.
 */
export function stableAgentId(name: string): string {
  const digest = createHash('sha256').update(`gcorp-agent:${name}`).digest();
  let body = '0000000000';
  for (let i = 0; i < 16; i++) body += CROCKFORD[digest[i]! & 31];
  return `agt_${body}`;
}

/** Stops reading a response body and releases its connection, without an unhandled 'error' event. */
export function dropBody(body: { on(event: 'error', listener: () => void): unknown; destroy(): unknown }): void {
  body.on('error', () => undefined);
  body.destroy();
}
