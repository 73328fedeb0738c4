// /console: the web console. Server-rendered pages (usage against quotas, runs with live status, API keys, device
// approval) behind a session cookie that holds the session's access and refresh tokens; expired access tokens are
// refreshed transparently, and an ended session sends the person back to the sign-in page with a notice. Forms carry
// anti-CSRF tokens: a signed double-submit token before sign-in, a session-bound token after.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DoubleSubmitCsrf, SessionCsrf, clearCookie, newNonce, readCookie, sendPage, setCookie, strictCsp, type SafeHtml } from '../http/html.js';
import { decodeCursor, page } from '../http/pagination.js';
import { ProblemError } from '../http/problem.js';
import { runView, type RunRow } from '../runs/service.js';
import { checkGrantable, insertApiKey, listApiKeys, revokeApiKey } from '../services/api-keys.js';
import { ALL_SCOPES, type Principal, type Role } from '../services/principal.js';
import { hmac, safeEqual, sha256 } from '../services/secrets.js';
import type { TokenPair } from '../services/sessions.js';
import {
  devicePage,
  keysPage,
  loginPage,
  messagePage,
  runsPage,
  tenantChoicePage,
  usagePage,
  type KeysState,
  type LoginState,
  type Notice,
  type RunRowView,
  type Viewer,
} from '../console/views.js';

const SESSION_COOKIE = 'gcorp_console';
const LOGIN_CSRF_COOKIE = 'gcorp_console_csrf';
const COOKIE_PATH = '/console';
const LOGIN_CSRF_TTL_MS = 30 * 60_000;
/** Forms of a page left open longer than this must be reloaded. */
const FORM_CSRF_TTL_MS = 12 * 3600_000;
/** How long the tenant choice page (after the password check) stays usable. */
const PREAUTH_TTL_MS = 5 * 60_000;
/** A rotated refresh token answers with the same new pair for this long, so parallel requests do not look like reuse. */
const REFRESH_GRACE_MS = 60_000;
const RUNS_PAGE_SIZE = 25;
const KEYS_SHOWN = 100;
/** Where `next` may send someone after sign-in: console pages only, never another origin. */
const NEXT = /^\/console(\/(runs|keys|device))?(\?[A-Za-z0-9_.~=&%+-]{0,200})?$/;

const EXPIRED_TEXT = 'Your session has expired or was ended. Sign in again.';
const CSRF_TEXT = 'This form expired or did not come from the console, so nothing was changed. Reload the page and try again.';

interface Session {
  principal: Principal;
  sessionId: string;
  userId: string;
  viewer: Viewer;
}

type Lookup = { session: Session } | { session: null; presented: boolean };

type RunsQuery = { status?: string; cursor?: string };
type FeedQuery = { ids?: string; status?: string; limit: number };
type LoginForm = { csrf?: string; email?: string; password?: string; tenant_id?: string; preauth?: string; next?: string };
type KeyForm = { csrf?: string; name?: string; scopes?: string | string[]; expires_in_days?: string };
type DeviceForm = { csrf?: string; user_code?: string; action?: 'approve' | 'deny' };

export const safeNext = (next: unknown): string | undefined =>
  typeof next === 'string' && NEXT.test(next) ? next : undefined;

export async function consolePlugin(app: FastifyInstance): Promise<void> {
  const { router, services, keys, db, principals, config } = app.hub;

  const secure = (req: FastifyRequest) => req.protocol === 'https' || (config.publicUrl ?? '').startsWith('https:');
  const loginCsrf = new DoubleSubmitCsrf(keys.csrf, { cookie: LOGIN_CSRF_COOKIE, path: COOKIE_PATH, ttlMs: LOGIN_CSRF_TTL_MS, secure });
  const formCsrf = new SessionCsrf(keys.csrf, { purpose: 'console-form', ttlMs: FORM_CSRF_TTL_MS });

  // ---- pages -----------------------------------------------------------------------------------------------

  const send = (reply: FastifyReply, status: number, render: (nonce: string) => SafeHtml) => {
    const nonce = newNonce();
    return sendPage(reply, status, render(nonce), { csp: strictCsp(nonce) });
  };
  const loginForm = (req: FastifyRequest, reply: FastifyReply, status: number, state: Omit<LoginState, 'csrf' | 'nonce'>) =>
    send(reply, status, (nonce) => loginPage({ ...state, csrf: loginCsrf.issue(req, reply), nonce }));
  const refuse = (reply: FastifyReply, s: Session | null, status: number, title: string, text: string, back?: { href: string; label: string }) =>
    send(reply, status, (nonce) => messagePage(s?.viewer ?? null, nonce, title, { kind: 'error', text }, back));

  // ---- the session cookie ----------------------------------------------------------------------------------

  const writeSession = (req: FastifyRequest, reply: FastifyReply, pair: TokenPair) =>
    setCookie(reply, SESSION_COOKIE, `${pair.access_token}~${pair.refresh_token}`, {
      path: COOKIE_PATH,
      maxAge: config.refreshTokenTtlSeconds,
      secure: secure(req),
    });
  const dropSession = (req: FastifyRequest, reply: FastifyReply) => clearCookie(reply, SESSION_COOKIE, { path: COOKIE_PATH, secure: secure(req) });

  // Requests that arrive together with the same expired cookie (a page and the runs poll) share one refresh, so they
  // set one cookie and rotate once. Across processes (behind a load balancer) they cannot: there the hub's reuse
  // grace (GCORP_REFRESH_REUSE_GRACE) exchanges the token once per process instead of revoking the session.
  const refreshing = new Map<string, { at: number; pair: Promise<TokenPair> }>();
  const refreshOnce = (refreshToken: string): Promise<TokenPair> => {
    const now = Date.now();
    for (const [k, v] of refreshing) if (now - v.at > REFRESH_GRACE_MS) refreshing.delete(k);
    const key = sha256(refreshToken);
    let entry = refreshing.get(key);
    if (!entry) {
      entry = { at: now, pair: services.sessions.refresh(refreshToken) };
      refreshing.set(key, entry);
      entry.pair.catch(() => refreshing.delete(key));
    }
    return entry.pair;
  };

  async function lookup(req: FastifyRequest, reply: FastifyReply, clearWhenGone = true): Promise<Lookup> {
    const raw = readCookie(req, SESSION_COOKIE);
    if (!raw) return { session: null, presented: false };
    const cut = raw.indexOf('~');
    const access = cut > 0 ? raw.slice(0, cut) : '';
    const refresh = cut > 0 ? raw.slice(cut + 1) : '';
    const gone = (): Lookup => {
      if (clearWhenGone) dropSession(req, reply);
      return { session: null, presented: true };
    };
    let principal: Principal;
    try {
      // Access tokens only: an API key placed in the cookie is not a console session.
      principal = await principals.verifyAccessToken(access);
    } catch (err) {
      if (!(err instanceof ProblemError) || err.status !== 401) throw err;
      if (err.code !== 'token_expired' || !refresh) return gone();
      try {
        const pair = await refreshOnce(refresh);
        writeSession(req, reply, pair);
        principal = await principals.verifyAccessToken(pair.access_token);
      } catch (refreshErr) {
        if (refreshErr instanceof ProblemError && refreshErr.status === 401) return gone();
        throw refreshErr;
      }
    }
    if (principal.kind !== 'user' || !principal.sessionId || !principal.userId) return gone();
    const user = await db.query<{ email: string }>('select email from users where id = $1', [principal.userId]);
    if (!user.rows[0]) return gone();
    req.log = req.log.child({ tenant_id: principal.tenantId });
    return {
      session: {
        principal,
        sessionId: principal.sessionId,
        userId: principal.userId,
        viewer: {
          email: user.rows[0].email,
          tenantName: principal.tenant.name,
          role: principal.role ?? 'member',
          csrf: formCsrf.issue(principal.sessionId),
          canManageKeys: principal.scopes.has('keys:manage'),
        },
      },
    };
  }

  /** Checks that apply to every page once someone is signed in: the tenant is active, the role carries the scope. */
  function permitted(reply: FastifyReply, s: Session, scope?: string): boolean {
    if (s.principal.tenant.suspended_at && !s.principal.isInstanceAdmin) {
      refuse(reply, s, 403, 'Tenant suspended', `${s.principal.tenant.name} is suspended; contact the instance administrator.`);
      return false;
    }
    if (scope && !s.principal.scopes.has(scope)) {
      refuse(reply, s, 403, 'Not allowed', `Your role (${s.viewer.role}) does not carry the ${scope} scope this page needs. Ask an owner or admin of ${s.viewer.tenantName}.`, { href: '/console', label: 'Back to usage' });
      return false;
    }
    return true;
  }

  /** A page: without a session, redirect to sign-in (and back here after). Replies itself and returns null otherwise. */
  async function pageSession(req: FastifyRequest, reply: FastifyReply, scope?: string): Promise<Session | null> {
    const found = await lookup(req, reply);
    if (!found.session) {
      const q = new URLSearchParams();
      const next = safeNext(req.url);
      if (next && next !== '/console') q.set('next', next);
      if (found.presented) q.set('reason', 'expired');
      const qs = q.toString();
      reply.code(303).header('Location', `/console/login${qs ? `?${qs}` : ''}`).send();
      return null;
    }
    return permitted(reply, found.session, scope) ? found.session : null;
  }

  /** A form post: the session must be alive (401 otherwise) and the form's token bound to it (403 otherwise). */
  async function formSession(req: FastifyRequest, reply: FastifyReply, back: string, scope?: string): Promise<Session | null> {
    const found = await lookup(req, reply);
    if (!found.session) {
      loginForm(req, reply, 401, {
        next: back,
        notice: { kind: 'error', text: found.presented ? `${EXPIRED_TEXT} Nothing was changed.` : 'Sign in to continue; nothing was changed.' },
      });
      return null;
    }
    const token = (req.body as { csrf?: unknown } | undefined)?.csrf;
    if (!formCsrf.check(found.session.sessionId, typeof token === 'string' ? token : undefined)) {
      req.log.info({ code: 'csrf_failed' }, 'console form refused');
      refuse(reply, found.session, 403, 'Form refused', CSRF_TEXT, { href: back, label: 'Back to the form' });
      return null;
    }
    return permitted(reply, found.session, scope) ? found.session : null;
  }

  // ---- sign-in helpers -------------------------------------------------------------------------------------

  const memberships = async (userId: string) =>
    (await db.query<{ tenant_id: string; role: Role; tenant_name: string }>('select tenant_id, role, tenant_name from gcorp_user_memberships($1)', [userId])).rows;

  // The tenant choice page proves the password was checked with a short-lived token bound to the user and to this
  // browser's sign-in CSRF nonce, so the password is not asked twice and never echoed into the page.
  const preauthFor = (userId: string, nonce: string) => {
    const ts = Date.now().toString(36);
    return `${ts}.${userId}.${hmac(keys.csrf, `console-preauth.${userId}.${ts}.${nonce}`)}`;
  };
  const checkPreauth = (token: string, nonce: string): string | undefined => {
    const [ts, userId, mac, ...rest] = token.split('.');
    if (!ts || !userId || !mac || rest.length > 0) return undefined;
    if (!safeEqual(mac, hmac(keys.csrf, `console-preauth.${userId}.${ts}.${nonce}`))) return undefined;
    const age = Date.now() - parseInt(ts, 36);
    return age >= 0 && age <= PREAUTH_TTL_MS ? userId : undefined;
  };

  // ---- data for pages --------------------------------------------------------------------------------------

  const grantable = (p: Principal) => ALL_SCOPES.filter((s) => p.scopes.has(s));
  const listKeys = async (p: Principal) => (await db.tenant(p.tenantId, (q) => listApiKeys(q, null, KEYS_SHOWN))).slice(0, KEYS_SHOWN);
  const slimRun = (r: ReturnType<typeof runView>): RunRowView => ({
    id: r.id,
    agent: r.agent,
    status: r.status,
    created_at: r.created_at,
    started_at: r.started_at,
    finished_at: r.finished_at,
    usage: r.usage,
  });
  const keysView = async (s: Session, status: number, reply: FastifyReply, extra: Omit<KeysState, 'keys' | 'grantable'>) => {
    const state: KeysState = { keys: await listKeys(s.principal), grantable: grantable(s.principal), ...extra };
    return send(reply, status, (nonce) => keysPage(s.viewer, nonce, state));
  };

  // ---- operations ------------------------------------------------------------------------------------------

  router.register(
    app,
    {
      getConsoleLogin: async (req, reply) => {
        const q = req.query as { next?: string; reason?: string };
        if (req.validationError) {
          return loginForm(req, reply, 400, { notice: { kind: 'error', text: 'That link is malformed; sign in to continue.' } });
        }
        const notice: Notice | undefined =
          q.reason === 'expired'
            ? { kind: 'error', text: EXPIRED_TEXT }
            : q.reason === 'signed_out'
              ? { kind: 'ok', text: 'You have signed out.' }
              : undefined;
        return loginForm(req, reply, 200, { next: safeNext(q.next), notice });
      },

      submitConsoleLogin: async (req, reply) => {
        const body = (req.body ?? {}) as LoginForm;
        const next = safeNext(body.next);
        const email = typeof body.email === 'string' ? body.email.trim() : '';
        const nonce = loginCsrf.check(req, body.csrf);
        if (!nonce) {
          req.log.info({ code: 'csrf_failed' }, 'console sign-in refused');
          return loginForm(req, reply, 403, { email, next, notice: { kind: 'error', text: 'This sign-in form expired or did not come from this page, so nobody was signed in. Try again.' } });
        }
        if (req.validationError) return loginForm(req, reply, 400, { email, next, notice: { kind: 'error', text: 'Enter your email and password.' } });

        let who: { userId: string; tenantId: string; role: Role };
        if (body.preauth) {
          const userId = checkPreauth(body.preauth, nonce);
          if (!userId || !body.tenant_id) {
            return loginForm(req, reply, 401, { next, notice: { kind: 'error', text: 'The tenant choice expired. Sign in again.' } });
          }
          const chosen = (await memberships(userId)).find((m) => m.tenant_id === body.tenant_id);
          if (!chosen) return loginForm(req, reply, 403, { next, notice: { kind: 'error', text: 'You are not a member of that tenant.' } });
          who = { userId, tenantId: chosen.tenant_id, role: chosen.role };
        } else {
          if (!email || !body.password) return loginForm(req, reply, 400, { email, next, notice: { kind: 'error', text: 'Enter your email and password.' } });
          try {
            who = await services.sessions.authenticate(email, body.password, body.tenant_id || undefined);
          } catch (err) {
            if (err instanceof ProblemError && err.status < 500) {
              return loginForm(req, reply, err.status, { email, next, notice: { kind: 'error', text: err.detail } });
            }
            throw err;
          }
          if (!body.tenant_id) {
            const tenants = await memberships(who.userId);
            if (tenants.length > 1) {
              const csrf = loginCsrf.issue(req, reply);
              const preauth = preauthFor(who.userId, csrf.split('.')[1]!);
              return send(reply, 200, (n) =>
                tenantChoicePage({ csrf, nonce: n, preauth, next, email, tenants: tenants.map((t) => ({ id: t.tenant_id, name: t.tenant_name, role: t.role })) }),
              );
            }
          }
        }
        const pair = await services.sessions.startSession(who.userId, who.tenantId, who.role);
        clearCookie(reply, LOGIN_CSRF_COOKIE, { path: COOKIE_PATH, secure: secure(req) });
        writeSession(req, reply, pair);
        return reply.code(303).header('Location', next ?? '/console').send();
      },

      submitConsoleLogout: async (req, reply) => {
        const found = await lookup(req, reply);
        if (found.session) {
          const token = (req.body as { csrf?: unknown } | undefined)?.csrf;
          if (!formCsrf.check(found.session.sessionId, typeof token === 'string' ? token : undefined)) {
            return refuse(reply, found.session, 403, 'Form refused', 'This sign-out form expired or did not come from the console, so you are still signed in. Reload the page and try again.', {
              href: '/console',
              label: 'Back to the console',
            });
          }
          await services.sessions.revokeSession(found.session.principal.tenantId, found.session.sessionId, 'logout');
        }
        dropSession(req, reply);
        return loginForm(req, reply, 200, { notice: { kind: 'ok', text: 'You have signed out.' } });
      },

      getConsole: async (req, reply) => {
        const s = await pageSession(req, reply, 'usage:read');
        if (!s) return reply;
        const now = new Date();
        const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - 29 * 86_400_000);
        const [summary, series] = await Promise.all([
          services.usage.summary(s.principal),
          services.usage.series(s.principal, { from: from.toISOString(), to: now.toISOString(), granularity: 'day' }),
        ]);
        return send(reply, 200, (nonce) =>
          usagePage(s.viewer, nonce, {
            plan: summary.plan,
            periodStart: summary.period_start,
            periodEnd: summary.period_end,
            usage: summary.usage,
            quotas: summary.quotas,
            runsPerDay: series.data.map((d) => ({ start: d.start, value: d.runs })),
            tokensPerDay: series.data.map((d) => ({ start: d.start, value: d.input_tokens + d.output_tokens })),
          }),
        );
      },

      getConsoleRuns: async (req, reply) => {
        const s = await pageSession(req, reply, 'runs:read');
        if (!s) return reply;
        const q = req.query as RunsQuery;
        const back = { href: '/console/runs', label: 'Show the newest runs' };
        if (req.validationError) return refuse(reply, s, 400, 'Runs', 'That filter is not one this page offers.', back);
        let after: string | null;
        try {
          after = decodeCursor(q.cursor);
        } catch (err) {
          if (err instanceof ProblemError && err.status === 400) return refuse(reply, s, 400, 'Runs', 'That page link is not valid any more.', back);
          throw err;
        }
        const rows = await services.runs.list(s.principal.tenantId, { limit: RUNS_PAGE_SIZE, after, status: q.status });
        const { data, next_cursor } = page(rows, RUNS_PAGE_SIZE);
        return send(reply, 200, (nonce) =>
          runsPage(s.viewer, nonce, { runs: data.map(slimRun), status: q.status, cursor: q.cursor, nextCursor: next_cursor, pageSize: RUNS_PAGE_SIZE }),
        );
      },

      getConsoleKeys: async (req, reply) => {
        const s = await pageSession(req, reply, 'keys:manage');
        if (!s) return reply;
        return keysView(s, 200, reply, {});
      },

      submitConsoleKeyCreate: async (req, reply) => {
        const s = await formSession(req, reply, '/console/keys', 'keys:manage');
        if (!s) return reply;
        const body = (req.body ?? {}) as KeyForm;
        const name = typeof body.name === 'string' ? body.name.trim() : '';
        const scopes = [...new Set([body.scopes ?? []].flat().filter((x): x is string => typeof x === 'string'))];
        const expires = typeof body.expires_in_days === 'string' ? body.expires_in_days : '';
        const form = { name, scopes, expires };
        if (req.validationError || !name || name.length > 100 || scopes.length === 0 || !['', '30', '90', '365'].includes(expires)) {
          return keysView(s, 400, reply, { form, notice: { kind: 'error', text: 'Give the key a name of 1 to 100 characters and choose at least one scope.' } });
        }
        try {
          checkGrantable(s.principal, scopes);
        } catch (err) {
          if (err instanceof ProblemError && err.status < 500) return keysView(s, err.status === 403 ? 403 : 400, reply, { form, notice: { kind: 'error', text: err.detail } });
          throw err;
        }
        const expiresAt = expires ? new Date(Date.now() + Number(expires) * 86_400_000).toISOString() : null;
        const created = await db.tenant(s.principal.tenantId, (q) =>
          insertApiKey(q, s.principal.tenantId, { name, scopes, expiresAt, createdByUserId: s.userId }),
        );
        req.log.info({ api_key_id: created.id }, 'API key created in the console');
        return keysView(s, 201, reply, { created: { name: created.name, key: created.key } });
      },

      submitConsoleKeyRevoke: async (req, reply) => {
        const s = await formSession(req, reply, '/console/keys', 'keys:manage');
        if (!s) return reply;
        const id = String((req.body as { id?: unknown } | undefined)?.id ?? '');
        const back = { href: '/console/keys', label: 'Back to API keys' };
        if (req.validationError) return refuse(reply, s, 400, 'Form refused', 'The form was not one this page sends; nothing was changed.', back);
        let revoked;
        try {
          revoked = await db.tenant(s.principal.tenantId, (q) => revokeApiKey(q, id));
        } catch (err) {
          if (err instanceof ProblemError && err.status === 404) return refuse(reply, s, 404, 'Not found', `API key ${id} does not exist.`, back);
          throw err;
        }
        await principals.invalidate(`key:${id}`);
        req.log.info({ api_key_id: id }, 'API key revoked in the console');
        return keysView(s, 200, reply, { notice: { kind: 'ok', text: `Key “${revoked.name}” revoked. Anything using it can no longer call the hub.` } });
      },

      getConsoleDevice: async (req, reply) => {
        const s = await pageSession(req, reply);
        if (!s) return reply;
        if (req.validationError) {
          return send(reply, 400, (nonce) => devicePage(s.viewer, nonce, { notice: { kind: 'error', text: 'That code is malformed; type the code your device shows.' } }));
        }
        const { user_code } = req.query as { user_code?: string };
        return send(reply, 200, (nonce) => devicePage(s.viewer, nonce, { userCode: user_code }));
      },

      submitConsoleDevice: async (req, reply) => {
        const s = await formSession(req, reply, '/console/device');
        if (!s) return reply;
        const body = (req.body ?? {}) as DeviceForm;
        const userCode = typeof body.user_code === 'string' ? body.user_code.trim() : '';
        const again = (text: string) => send(reply, 400, (nonce) => devicePage(s.viewer, nonce, { userCode, notice: { kind: 'error', text } }));
        if (req.validationError || !userCode || !body.action) return again('Enter the code your device shows, then choose Approve or Deny.');
        const decided = (await services.device.pending(userCode)) && (await services.device.decide(userCode, body.action, { userId: s.userId, tenantId: s.principal.tenantId }));
        if (!decided) return again('That code is unknown, already used or expired. Start the sign-in again on your device.');
        const text =
          body.action === 'approve'
            ? `Device approved. It is now signed in as ${s.viewer.email} in ${s.viewer.tenantName}; you can return to it.`
            : 'Request denied. The device was not signed in.';
        return send(reply, 200, (nonce) => devicePage(s.viewer, nonce, { done: true, notice: { kind: 'ok', text } }));
      },
    },
    { attachValidation: true },
  );

  // The runs page's live feed answers JSON (problems included), so the usual validation and errors apply.
  router.register(app, {
    getConsoleRunsFeed: async (req, reply) => {
      // An ended session's cookie is left for the next page view, which then says the session expired.
      const found = await lookup(req, reply, false);
      if (!found.session) throw new ProblemError(401, 'session_expired', 'The console session has expired or was ended; sign in again.');
      const p = found.session.principal;
      if (p.tenant.suspended_at && !p.isInstanceAdmin) throw new ProblemError(403, 'tenant_suspended', 'This tenant is suspended; contact the instance administrator.');
      if (!p.scopes.has('runs:read')) throw new ProblemError(403, 'insufficient_scope', 'Your role does not carry the runs:read scope.');
      const q = req.query as FeedQuery;
      let runs: ReturnType<typeof runView>[];
      if (q.ids) {
        const ids = [...new Set(q.ids.split(','))];
        const res = await db.tenant(p.tenantId, (c) => c.query<RunRow>('select * from runs where id = any($1::text[]) order by id desc', [ids]));
        runs = res.rows.map(runView);
      } else {
        runs = (await services.runs.list(p.tenantId, { limit: q.limit, after: null, status: q.status })).slice(0, q.limit);
      }
      return reply.header('Cache-Control', 'no-store').send({ data: runs.map(slimRun) });
    },
  });
}
