// GET/POST /device: the page where a person signs in and approves (or denies) a device code, CSRF-protected.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { DoubleSubmitCsrf, escapeHtml, sendPage } from '../http/html.js';
import { ProblemError } from '../http/problem.js';

const CSRF_COOKIE = 'gcorp_device_csrf';
const CSRF_TTL_MS = 30 * 60_000;

interface PageState {
  userCode?: string;
  email?: string;
  message?: { kind: 'error' | 'ok'; text: string };
  done?: boolean;
}

function render(state: PageState, csrf: string): string {
  const msg = state.message
    ? `<p class="msg ${state.message.kind}" role="${state.message.kind === 'error' ? 'alert' : 'status'}">${escapeHtml(state.message.text)}</p>`
    : '';
  const form = state.done
    ? ''
    : `<form method="post" action="/device">
  <input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
  <label>Code shown in your terminal<input name="user_code" required autocomplete="off" placeholder="XXXX-XXXX" value="${escapeHtml(state.userCode ?? '')}"></label>
  <label>Email<input name="email" type="email" required autocomplete="username" value="${escapeHtml(state.email ?? '')}"></label>
  <label>Password<input name="password" type="password" required autocomplete="current-password"></label>
  <div class="row"><button name="action" value="approve" type="submit">Approve</button>
  <button name="action" value="deny" type="submit" class="secondary">Deny</button></div>
</form>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Approve device · Generic Corp Hub</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;background:#f6f7f9;color:#1d2330;display:grid;place-items:center;min-height:100vh;margin:0}
main{background:#fff;padding:2rem;border-radius:12px;box-shadow:0 2px 12px #0001;width:min(26rem,92vw)}
h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:.7rem 0;font-weight:600}
input{display:block;width:100%;box-sizing:border-box;padding:.55rem;margin-top:.25rem;border:1px solid #c9ced8;border-radius:8px;font:inherit}
.row{display:flex;gap:.6rem;margin-top:1rem}button{flex:1;padding:.6rem;border:0;border-radius:8px;background:#2d5bff;color:#fff;font:inherit;cursor:pointer}
button.secondary{background:#e6e9f0;color:#1d2330}.msg{padding:.6rem;border-radius:8px}.error{background:#fde8e8;color:#8a1c1c}.ok{background:#e6f6ec;color:#1b5e34}
</style></head><body><main><h1>Sign in to approve a device</h1>
<p>Check that the code matches the one in your terminal before you approve.</p>${msg}${form}</main></body></html>`;
}

export async function devicePagePlugin(app: FastifyInstance): Promise<void> {
  const { router, services, keys } = app.hub;

  const csrf = new DoubleSubmitCsrf(keys.csrf, { cookie: CSRF_COOKIE, path: '/device', ttlMs: CSRF_TTL_MS });
  const page = (reply: FastifyReply, status: number, state: PageState) =>
    sendPage(reply, status, render(state, csrf.issue(reply.request, reply)), {
      csp: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    });

  router.register(app, {
    getDevicePage: async (req, reply) => {
      const { user_code } = req.query as { user_code?: string };
      return page(reply, 200, { userCode: user_code });
    },
    submitDevicePage: async (req, reply) => {
      const body = req.body as { csrf?: string; user_code: string; email: string; password: string; action?: string; tenant_id?: string };
      const state: PageState = { userCode: body?.user_code, email: body?.email };
      if (req.validationError) {
        return page(reply, 400, { ...state, message: { kind: 'error', text: 'Fill in the code, your email and your password, then choose Approve or Deny.' } });
      }
      if (!csrf.check(req, body.csrf)) {
        return page(reply, 400, { ...state, message: { kind: 'error', text: 'This form expired or did not come from this page. Reload the page and try again.' } });
      }
      if (!(await services.device.pending(body.user_code))) {
        return page(reply, 400, { ...state, message: { kind: 'error', text: 'That code is unknown, used or expired. Start the login again in your terminal.' } });
      }
      let who;
      try {
        who = await services.sessions.authenticate(body.email, body.password, body.tenant_id || undefined);
      } catch (err) {
        if (err instanceof ProblemError && err.status < 500) {
          return page(reply, err.status, { ...state, message: { kind: 'error', text: err.detail } });
        }
        throw err;
      }
      const decision = body.action === 'deny' ? 'deny' : 'approve';
      const ok = await services.device.decide(body.user_code, decision, who);
      if (!ok) return page(reply, 400, { ...state, message: { kind: 'error', text: 'That code is no longer pending. Start the login again in your terminal.' } });
      return page(reply, 200, {
        done: true,
        message:
          decision === 'approve'
            ? { kind: 'ok', text: 'Device approved. You can close this page and return to your terminal.' }
            : { kind: 'ok', text: 'Request denied. Nothing was signed in.' },
      });
    },
  }, { attachValidation: true });
}
