// zod schemas for flag values and files, with messages that name the bad field (`--timeout: ...`, `profiles.x.server: ...`).
import { z } from 'zod';
import { usageError } from './errors.js';

/** `a.b.c: message; d: message`: every issue with the path of the field it is about. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      const where = [prefix, path].filter(Boolean).join(prefix && path ? '.' : '');
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Parses `value` with `schema`, or fails with a usage error (exit 2) naming `field` (a flag like `--timeout`). */
export function parseFlag<S extends z.ZodType>(field: string, schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const messages = result.error.issues.map((issue) => {
    const sub = issue.path.map(String).join('.');
    return sub ? `${sub}: ${issue.message}` : issue.message;
  });
  throw usageError(`${field}: ${messages.join('; ')}.`);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90`, `90s`, `5m`, `1h30m`, `2d` as milliseconds (a bare number is seconds). */
export const duration = z.string().transform((text, ctx) => {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (like 90, 30s, 5m, 1h30m or 2d)` });
    return z.NEVER;
  }
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]!]!, 0));
});

/** A point in time: an RFC 3339 date-time, a date (`2025-11-23`, midnight UTC), or a duration ago (`24h`, `7d`). */
export function pointInTime(now = Date.now()) {
  return z.string().transform((text, ctx) => {
    const trimmed = text.trim();
    if (/^\d{4}-\d{2}-\d{2}$/.test(trimmed)) {
      const t = Date.parse(`${trimmed}T00:00:00Z`);
      if (!Number.isNaN(t)) return new Date(t);
    } else if (/^\d{4}-\d{2}-\d{2}T/.test(trimmed)) {
      const t = Date.parse(trimmed);
      if (!Number.isNaN(t)) return new Date(t);
    } else {
      const ago = duration.safeParse(trimmed);
      if (ago.success && !/^\d+(\.\d+)?$/.test(trimmed)) return new Date(now - ago.data);
    }
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a time (use 2025-11-23, 2025-11-23T14:30:00Z, or an age like 24h or 7d)` });
    return z.NEVER;
  });
}

/** A future point in time: an RFC 3339 date-time, a date (midnight UTC), or a duration from now (`30d`, `12h`). */
export function futureTime(now = Date.now()) {
  return z.string().transform((text, ctx) => {
    const trimmed = text.trim();
    let t: number | undefined;
    if (/^\d{4}-\d{2}-\d{2}$/.test(trimmed)) t = Date.parse(`${trimmed}T00:00:00Z`);
    else if (/^\d{4}-\d{2}-\d{2}T/.test(trimmed)) t = Date.parse(trimmed);
    else {
      const ahead = duration.safeParse(trimmed);
      if (ahead.success) t = now + ahead.data;
    }
    if (t === undefined || Number.isNaN(t)) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a time (use 2026-01-31, 2026-01-31T12:00:00Z, or a duration from now like 30d)` });
      return z.NEVER;
    }
    if (t <= now) {
      ctx.addIssue({ code: 'custom', message: `${new Date(t).toISOString()} is not in the future` });
      return z.NEVER;
    }
    return new Date(t);
  });
}

/** `key=value` pairs into an object; `allowed` checks each key. */
export function keyValuePairs(flag: string, pairs: readonly string[] | undefined, keyPattern: RegExp): Record<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usageError(`${flag}: "${pair}" is not key=value.`);
    const key = pair.slice(0, eq);
    if (!keyPattern.test(key)) throw usageError(`${flag}: "${key}" is not a valid key (${keyPattern.source}).`);
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

/** An http(s) URL without a trailing slash. */
export const serverUrl = z
  .string()
  .trim()
  .pipe(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL, like http://127.0.0.1:4100' }))
  .transform((url) => url.replace(/\/+$/, ''));
