// Server-rendered HTML pages (the /device page and the web console): escaping, cookies, CSRF tokens and the security
// headers every page is sent with.
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hmac, safeEqual } from '../services/secrets.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);

/** Markup that is already safe: produced by `html` or `raw`, inserted as it is. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

function interpolate(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(interpolate).join('');
  return escapeHtml(String(value));
}

/**
 * Tagged template for markup: every interpolated value is escaped unless it is SafeHtml (a nested `html` result or
 * `raw`), arrays are joined, and null, undefined and false render nothing.
 */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += interpolate(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Trusted markup (constant CSS, scripts, SVG built from numbers): never pass user data here. */
export const raw = (s: string): SafeHtml => new SafeHtml(s);

export function readCookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) {
      try {
        return decodeURIComponent(v.join('='));
      } catch {
        return undefined; // malformed percent-encoding: as if the cookie were absent
      }
    }
  }
  return undefined;
}

export interface CookieOptions {
  path: string;
  /** Seconds; 0 deletes the cookie. Omitted: a session cookie. */
  maxAge?: number;
  secure?: boolean;
}

/** Appends a `Set-Cookie` header (httpOnly, SameSite=Strict): the pages' cookies are never read by scripts. */
export function setCookie(reply: FastifyReply, name: string, value: string, opts: CookieOptions): void {
  const parts = [`${name}=${encodeURIComponent(value)}`, `Path=${opts.path}`, 'HttpOnly', 'SameSite=Strict'];
  if (opts.maxAge !== undefined) parts.push(`Max-Age=${opts.maxAge}`);
  if (opts.secure) parts.push('Secure');
  reply.header('Set-Cookie', parts.join('; '));
}

export function clearCookie(reply: FastifyReply, name: string, opts: Omit<CookieOptions, 'maxAge'>): void {
  setCookie(reply, name, '', { ...opts, maxAge: 0 });
}

/** A random value for a CSP nonce or a CSRF nonce. */
export const newNonce = (): string => randomBytes(16).toString('base64url');

/**
 * Signed double-submit CSRF tokens for forms shown before anyone is signed in: the page sets a random nonce in an
 * httpOnly cookie and puts `<time>.<nonce>.<mac>` in the form; a post is accepted when the mac is ours, the token
 * is fresh and its nonce equals the cookie's.
 */
export class DoubleSubmitCsrf {
  constructor(
    private readonly key: Buffer,
    private readonly opts: { cookie: string; path: string; ttlMs: number; secure?: (req: FastifyRequest) => boolean },
  ) {}

  issue(req: FastifyRequest, reply: FastifyReply): string {
    const nonce = newNonce();
    const ts = Date.now().toString(36);
    setCookie(reply, this.opts.cookie, nonce, {
      path: this.opts.path,
      maxAge: Math.floor(this.opts.ttlMs / 1000),
      secure: this.opts.secure?.(req) ?? false,
    });
    return `${ts}.${nonce}.${hmac(this.key, `${ts}.${nonce}`)}`;
  }

  /** The nonce of a valid token (it can bind further values to this form), or undefined. */
  check(req: FastifyRequest, token: string | undefined): string | undefined {
    const [ts, nonce, mac, ...rest] = String(token ?? '').split('.');
    if (!ts || !nonce || !mac || rest.length > 0) return undefined;
    if (!safeEqual(mac, hmac(this.key, `${ts}.${nonce}`))) return undefined;
    const age = Date.now() - parseInt(ts, 36);
    if (!(age >= 0 && age <= this.opts.ttlMs)) return undefined;
    const cookie = readCookie(req, this.opts.cookie);
    return cookie !== undefined && safeEqual(cookie, nonce) ? nonce : undefined;
  }
}

/**
 * Synchronizer tokens bound to a signed-in session: `<time>.<mac over purpose, session and time>`. Nothing is stored;
 * a token from another session, a forged one or a stale one fails.
 */
export class SessionCsrf {
  constructor(
    private readonly key: Buffer,
    private readonly opts: { purpose: string; ttlMs: number },
  ) {}

  issue(sessionId: string): string {
    const ts = Date.now().toString(36);
    return `${ts}.${hmac(this.key, `${this.opts.purpose}.${sessionId}.${ts}`)}`;
  }

  check(sessionId: string, token: string | undefined): boolean {
    const [ts, mac, ...rest] = String(token ?? '').split('.');
    if (!ts || !mac || rest.length > 0) return false;
    if (!safeEqual(mac, hmac(this.key, `${this.opts.purpose}.${sessionId}.${ts}`))) return false;
    const age = Date.now() - parseInt(ts, 36);
    return age >= 0 && age <= this.opts.ttlMs;
  }
}

export interface PageOptions {
  /** The Content-Security-Policy; see `strictCsp`. */
  csp: string;
}

/** A policy that allows only this page's own nonce'd <style> and <script>, and fetches to this origin. */
export function strictCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** Sends a page with the headers every HTML page of the hub carries: never cached, never framed, never sniffed. */
export function sendPage(reply: FastifyReply, status: number, body: SafeHtml | string, opts: PageOptions): FastifyReply {
  return reply
    .code(status)
    .header('Cache-Control', 'no-store')
    .header('Content-Security-Policy', opts.csp)
    .header('X-Frame-Options', 'DENY')
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'same-origin')
    .type('text/html; charset=utf-8')
    .send(String(body));
}
