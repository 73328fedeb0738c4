// The `webhook` runtime: the hub POSTs the run to the tenant's endpoint, signed like payment webhooks
// (`GCorp-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`), and the JSON reply is the output.
// Outbound calls are guarded against SSRF: the target's addresses are checked and the connection is pinned to the
// checked address, and redirects are followed by hand (at most 3), each target checked again.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import { Agent, request, type Dispatcher } from 'undici';
import { bareHost, defaultResolve, firstForbidden, hostAddresses, parseCidr, type Cidr } from './ssrf.js';
import { RunFailure, type RunContext, type RunResult, type Runtime, type WebhookSettings } from './types.js';
import { abortReason, backoffMs, dropBody, isPlainObject, nonNegativeInt, retryAfterMs, sleep } from './util.js';

export const WEBHOOK_USER_AGENT = 'GenericCorp-Hub';
export const SIGNATURE_HEADER = 'GCorp-Signature';
export const RUN_ID_HEADER = 'GCorp-Run-Id';
export const MAX_REDIRECTS = 3;
const MAX_RETRY_AFTER_MS = 30_000;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

// ---- signatures ----

/** The `GCorp-Signature` header value for a body sent at `timestamp` (unix seconds). */
export function signWebhookPayload(secret: string, rawBody: string | Uint8Array, timestamp = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * Checks a `GCorp-Signature` header against the raw request body, as a tenant's endpoint should: the HMAC-SHA256
 * must match one of the `v1` values and the timestamp must be within `toleranceSeconds` of now (replay protection).
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  rawBody: string | Uint8Array,
  toleranceSeconds = 300,
  nowMs = Date.now(),
): boolean {
  if (!header) return false;
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,15}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) return false;
  if (Math.abs(nowMs / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(
    createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex'),
    'utf8',
  );
  return signatures.some((sig) => timingSafeEqual(Buffer.from(sig, 'utf8'), expected));
}

// ---- configuration ----

export interface WebhookAgentConfig {
  url: string;
  signingSecret: string;
  timeoutMs: number | undefined;
}

export function parseWebhookConfig(config: Record<string, unknown>): WebhookAgentConfig {
  const { url, signing_secret: secret, timeout_seconds: timeout } = config;
  if (typeof url !== 'string' || url === '') {
    throw new RunFailure('agent_misconfigured', 'The webhook agent has no config.url.', { status: 422 });
  }
  if (typeof secret !== 'string' || secret === '') {
    throw new RunFailure('agent_misconfigured', 'The webhook agent has no signing secret.', { status: 422 });
  }
  let timeoutMs: number | undefined;
  if (timeout !== undefined && timeout !== null) {
    if (typeof timeout !== 'number' || !(timeout > 0) || timeout > 3600) {
      throw new RunFailure('agent_misconfigured', 'config.timeout_seconds must be a number of seconds from 1 to 3600.', {
        status: 422,
      });
    }
    timeoutMs = Math.round(timeout * 1000);
  }
  return { url, signingSecret: secret, timeoutMs };
}

// ---- target checks ----

function checkUrl(raw: string | URL, what: string): URL {
  let url: URL;
  try {
    url = typeof raw === 'string' ? new URL(raw) : raw;
  } catch {
    throw new RunFailure('webhook_invalid_url', `The ${what} ${JSON.stringify(String(raw))} is not a valid URL.`, { status: 422 });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RunFailure('webhook_invalid_url', `The ${what} must be an http or https URL, not ${url.protocol}.`, { status: 422 });
  }
  if (url.username || url.password) {
    throw new RunFailure('webhook_invalid_url', `The ${what} must not carry credentials.`, { status: 422 });
  }
  return url;
}

/** Resolves the URL's host and checks every address; the first one is where the connection goes. */
async function resolveTarget(
  url: URL,
  settings: WebhookSettings,
  allowed: Cidr[],
  what: string,
): Promise<{ address: string; family: 4 | 6 }> {
  const host = bareHost(url.hostname);
  let addresses: Array<{ address: string; family: number }>;
  try {
    addresses = await hostAddresses(host, settings.resolve ?? defaultResolve);
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err as Error).message;
    throw new RunFailure('webhook_unreachable', `Could not resolve the ${what} host ${host} (${code}).`, {
      retryable: true,
      status: 502,
    });
  }
  if (addresses.length === 0) {
    throw new RunFailure('webhook_unreachable', `The ${what} host ${host} has no address.`, { retryable: true, status: 502 });
  }
  const forbidden = settings.allowPrivate ? undefined : firstForbidden(addresses, allowed);
  if (forbidden) {
    const via = forbidden.address === host ? '' : ` resolves to ${forbidden.address}, which`;
    throw new RunFailure(
      'webhook_target_forbidden',
      `The ${what} ${url.host}${via} is a ${forbidden.reason} address; private and loopback targets are refused unless the operator allows them.`,
      { status: 403 },
    );
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** An undici Agent whose connections go to `address` whatever the host name resolves to at connect time. */
function pinnedAgent(address: string, family: 4 | 6, timeoutMs: number): Agent {
  const lookup = ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as unknown as LookupFunction;
  return new Agent({
    connect: { lookup, timeout: Math.min(timeoutMs, 30_000) },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 1,
    connections: 1,
  });
}

// ---- delivery ----

class AttemptTimeout extends Error {
  override name = 'AttemptTimeout';
}

interface DeliveryResult {
  reply: unknown;
}

function responseContentType(headers: Record<string, string | string[] | undefined>): string {
  const v = headers['content-type'];
  return (Array.isArray(v) ? v[0] : v)?.toLowerCase() ?? '';
}

async function readBody(body: Dispatcher.ResponseData['body'], limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      dropBody(body);
      throw new RunFailure('webhook_response_too_large', `The ${what} reply is larger than ${limit} bytes.`, { status: 502 });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

async function discard(body: Dispatcher.ResponseData['body'], limit = 64 * 1024): Promise<string> {
  try {
    const buf = await readBody(body, limit, 'error');
    const text = buf.toString('utf8').trim().replace(/\s+/g, ' ');
    return text.length > 200 ? `${text.slice(0, 200)}...` : text;
  } catch {
    dropBody(body);
    return '';
  }
}

/** One delivery attempt: the POST, then redirects by hand. Throws RunFailure (retryable for transient failures). */
async function deliverOnce(
  ctx: RunContext,
  settings: WebhookSettings,
  allowed: Cidr[],
  cfg: WebhookAgentConfig,
  body: string,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<DeliveryResult> {
  let url = checkUrl(cfg.url, 'webhook URL');
  let method: 'POST' | 'GET' = 'POST';
  for (let hop = 0; ; hop++) {
    const what = hop === 0 ? 'webhook URL' : 'webhook redirect target';
    const target = await resolveTarget(url, settings, allowed, what);
    const agent = pinnedAgent(target.address, target.family, timeoutMs);
    try {
      const headers: Record<string, string> = {
        'user-agent': WEBHOOK_USER_AGENT,
        accept: 'application/json',
        [RUN_ID_HEADER.toLowerCase()]: ctx.runId,
      };
      if (method === 'POST') {
        headers['content-type'] = 'application/json';
        headers[SIGNATURE_HEADER.toLowerCase()] = signWebhookPayload(cfg.signingSecret, body);
      }
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          method,
          headers,
          ...(method === 'POST' ? { body } : {}),
          signal,
          dispatcher: agent,
        });
      } catch (err) {
        if (signal.aborted) throw err;
        const e = err as { code?: string; message?: string };
        if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT') throw new AttemptTimeout();
        throw new RunFailure('webhook_unreachable', `Could not reach ${url.host} (${e.code ?? e.message ?? String(err)}).`, {
          retryable: true,
          status: 502,
        });
      }

      const status = res.statusCode;
      if (REDIRECT_STATUSES.has(status)) {
        const loc = res.headers.location;
        const location = Array.isArray(loc) ? loc[0] : loc;
        await discard(res.body);
        if (!location) {
          throw new RunFailure('webhook_http_error', `The webhook answered HTTP ${status} without a Location header.`, { status: 502 });
        }
        if (hop + 1 > MAX_REDIRECTS) {
          throw new RunFailure('webhook_too_many_redirects', `The webhook redirected more than ${MAX_REDIRECTS} times.`, {
            status: 502,
          });
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new RunFailure('webhook_invalid_url', `The webhook redirected to an invalid URL ${JSON.stringify(location)}.`, {
            status: 502,
          });
        }
        url = checkUrl(next, 'webhook redirect target');
        // As fetch does: 303 turns any method into GET, 301/302 turn POST into GET; 307/308 repeat the POST.
        if (status === 303 || status === 301 || status === 302) method = 'GET';
        ctx.log.info({ status, location: url.origin + url.pathname }, 'webhook redirected');
        continue;
      }
      if (status === 429 || status >= 500) {
        const text = await discard(res.body);
        const failure = new RunFailure('webhook_http_error', `The webhook answered HTTP ${status}${text ? `: ${text}` : ''}.`, {
          retryable: true,
          status: 502,
        });
        const ra = retryAfterMs(res.headers);
        if (ra !== undefined) Object.assign(failure, { retryAfterMs: ra });
        throw failure;
      }
      if (status < 200 || status >= 300) {
        const text = await discard(res.body);
        throw new RunFailure('webhook_http_error', `The webhook answered HTTP ${status}${text ? `: ${text}` : ''}.`, {
          status: 502,
        });
      }
      if (status === 204 || status === 205) {
        await discard(res.body);
        return { reply: null };
      }

      const contentType = responseContentType(res.headers);
      const mediaType = contentType.split(';')[0]!.trim();
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > settings.maxResponseBytes) {
        dropBody(res.body);
        throw new RunFailure(
          'webhook_response_too_large',
          `The webhook reply (${declared} bytes) is larger than ${settings.maxResponseBytes} bytes.`,
          { status: 502 },
        );
      }
      if (mediaType !== 'application/json' && !mediaType.endsWith('+json')) {
        dropBody(res.body);
        throw new RunFailure(
          'webhook_invalid_response',
          `The webhook answered with ${mediaType || 'no content type'}; the reply must be application/json.`,
          { status: 502 },
        );
      }
      const raw = await readBody(res.body, settings.maxResponseBytes, 'webhook');
      try {
        return { reply: JSON.parse(raw.toString('utf8')) as unknown };
      } catch (err) {
        throw new RunFailure('webhook_invalid_response', `The webhook reply is not valid JSON (${(err as Error).message}).`, {
          status: 502,
        });
      }
    } catch (err) {
      if (err instanceof RunFailure || err instanceof AttemptTimeout || signal.aborted) throw err;
      // The body stream broke (connection reset, body timeout) after the headers came.
      const e = err as { code?: string; message?: string };
      if (e.code === 'UND_ERR_BODY_TIMEOUT') throw new AttemptTimeout();
      throw new RunFailure('webhook_unreachable', `The connection to ${url.host} failed (${e.code ?? e.message ?? String(err)}).`, {
        retryable: true,
        status: 502,
      });
    } finally {
      agent.destroy().catch(() => undefined);
    }
  }
}

/** The reply is the output, unless it has the shape `{ output, usage? }`, whose parts are then used. */
export function interpretReply(reply: unknown): RunResult {
  if (isPlainObject(reply) && Object.hasOwn(reply, 'output')) {
    const usage = isPlainObject(reply.usage)
      ? { input_tokens: nonNegativeInt(reply.usage.input_tokens), output_tokens: nonNegativeInt(reply.usage.output_tokens) }
      : { input_tokens: 0, output_tokens: 0 };
    return { output: reply.output ?? null, usage };
  }
  return { output: reply, usage: { input_tokens: 0, output_tokens: 0 } };
}

export function createWebhookRuntime(settings: WebhookSettings): Runtime {
  const allowed: Cidr[] = [];
  for (const c of settings.allowedCidrs ?? []) {
    const parsed = parseCidr(c);
    if (!parsed) throw new Error(`webhook.allowedCidrs: ${JSON.stringify(c)} is not a CIDR`);
    allowed.push(parsed);
  }
  const maxAttempts = Math.max(1, Math.floor(settings.maxAttempts));
  const baseMs = settings.retryBaseMs ?? 500;

  return {
    async execute(ctx: RunContext): Promise<RunResult> {
      const { signal } = ctx;
      if (signal.aborted) throw abortReason(signal);
      const cfg = parseWebhookConfig(ctx.agent.config);
      checkUrl(cfg.url, 'webhook URL');
      const timeoutMs = cfg.timeoutMs ?? settings.timeoutMs;
      const body = JSON.stringify({
        run_id: ctx.runId,
        agent: ctx.agent.name,
        input: ctx.input === undefined ? null : ctx.input,
        metadata: ctx.metadata,
        attempt: ctx.attempt,
      });

      for (let attempt = 1; ; attempt++) {
        const timer = new AbortController();
        const timeout = setTimeout(() => timer.abort(new AttemptTimeout()), timeoutMs);
        const attemptSignal = AbortSignal.any([signal, timer.signal]);
        let failure: RunFailure;
        try {
          const { reply } = await deliverOnce(ctx, settings, allowed, cfg, body, attemptSignal, timeoutMs);
          const result = interpretReply(reply);
          await ctx.emit({ type: 'run.output.delta', data: { delta: result.output } });
          if (result.usage.input_tokens > 0 || result.usage.output_tokens > 0) {
            await ctx.emit({ type: 'run.usage', data: result.usage });
          }
          return result;
        } catch (err) {
          if (signal.aborted) throw abortReason(signal);
          if (err instanceof AttemptTimeout || timer.signal.aborted) {
            failure = new RunFailure('webhook_timeout', `The webhook did not answer within ${timeoutMs} ms.`, {
              retryable: true,
              status: 504,
            });
          } else if (err instanceof RunFailure) {
            failure = err;
          } else {
            throw err;
          }
        } finally {
          clearTimeout(timeout);
        }

        if (!failure.retryable) throw failure;
        if (attempt >= maxAttempts) {
          // The retries are spent here: the final failure is not retryable again at the run level.
          throw new RunFailure(
            failure.code,
            `${failure.detail} Gave up after ${maxAttempts} attempt${maxAttempts === 1 ? '' : 's'}.`,
            { status: failure.status, retryable: false },
          );
        }
        const hinted = (failure as RunFailure & { retryAfterMs?: number }).retryAfterMs;
        const delay = hinted !== undefined ? Math.min(hinted, MAX_RETRY_AFTER_MS) : backoffMs(attempt, baseMs);
        await ctx.emit({
          type: 'run.log',
          data: {
            level: 'warn',
            message: `webhook delivery attempt ${attempt} of ${maxAttempts} failed (${failure.code}: ${failure.detail}); retrying in ${delay} ms`,
          },
        });
        await sleep(delay, signal);
      }
    },
  };
}
