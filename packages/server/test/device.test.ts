import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

let t: TestHub;
let admin: Tenant;
const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

beforeAll(async () => {
  t = await startTestHub({ deviceCodeIntervalSeconds: 1 });
  admin = await bootstrap(t);
});
afterAll(async () => t?.close());

/** Loads the /device page like a browser: returns the CSRF token in the form and the cookie it set. */
async function openPage(userCode?: string) {
  const res = await t.api.call('GET', `/device${userCode ? `?user_code=${encodeURIComponent(userCode)}` : ''}`);
  expect(res.status).toBe(200);
  const csrf = /name="csrf" value="([^"]+)"/.exec(res.text)?.[1];
  const cookie = (res.headers['set-cookie'] ?? '').split(';')[0]!;
  expect(csrf).toBeTruthy();
  return { csrf: csrf!, cookie, html: res.text };
}

async function submit(form: Record<string, string>, cookie: string) {
  return t.api.call('POST', '/device', { form, headers: { cookie } });
}

describe('device authorization grant (RFC 8628)', () => {
  it('advertises its endpoints in RFC 8414 metadata', async () => {
    const res = await t.api.call('GET', '/.well-known/oauth-authorization-server');
    expect(res.body.device_authorization_endpoint).toBe(`${t.url}/v1/auth/device/code`);
    expect(res.body.token_endpoint).toBe(`${t.url}/v1/auth/token`);
    expect(res.body.grant_types_supported).toContain(GRANT);
  });

  it('issues a code, answers pending and slow_down, then tokens once after approval on /device', async () => {
    const code = await t.api.call('POST', '/v1/auth/device/code', { form: { client_id: 'gcorp-cli' } });
    expect(code.status).toBe(200);
    expect(code.body.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    expect(code.body.verification_uri_complete).toContain(code.body.user_code);

    const poll = () => t.api.call('POST', '/v1/auth/token', { form: { grant_type: GRANT, device_code: code.body.device_code, client_id: 'gcorp-cli' } });
    const pending = await poll();
    expect(pending.status).toBe(400);
    expect(pending.body.error).toBe('authorization_pending');

    const page = await openPage(code.body.user_code);
    expect(page.html).toContain(code.body.user_code);
    const approved = await submit({ csrf: page.csrf, user_code: code.body.user_code, email: admin.email, password: admin.password, action: 'approve' }, page.cookie);
    expect(approved.status).toBe(200);
    expect(approved.text).toContain('Device approved');

    await new Promise((r) => setTimeout(r, 1100)); // respect the 1 s interval this hub was started with
    const tokens = await poll();
    expect(tokens.status).toBe(200);
    const me = await t.as(tokens.body.access_token).call('GET', '/v1/me');
    expect(me.body.user.email).toBe(admin.email);
    const again = await poll();
    expect(again.body.error).toBe('invalid_grant');
  });

  it('answers slow_down to a client that polls faster than the interval, and grows the interval', async () => {
    const code = await t.api.call('POST', '/v1/auth/device/code', { form: { client_id: 'gcorp-cli' } });
    const form = { grant_type: GRANT, device_code: code.body.device_code, client_id: 'gcorp-cli' };
    expect((await t.api.call('POST', '/v1/auth/token', { form })).body.error).toBe('authorization_pending');
    const fast = await t.api.call('POST', '/v1/auth/token', { form });
    expect(fast.body.error).toBe('slow_down');
    expect(fast.body.error_description).toContain('6 seconds');
  });

  it('reports access_denied when the person denies', async () => {
    const code = await t.api.call('POST', '/v1/auth/device/code', { form: { client_id: 'gcorp-cli' } });
    const page = await openPage();
    await submit({ csrf: page.csrf, user_code: code.body.user_code.toLowerCase(), email: admin.email, password: admin.password, action: 'deny' }, page.cookie);
    const res = await t.api.call('POST', '/v1/auth/token', { form: { grant_type: GRANT, device_code: code.body.device_code, client_id: 'gcorp-cli' } });
    expect(res.body.error).toBe('access_denied');
  });

  it('refuses a form without a valid CSRF token or with a wrong password', async () => {
    const code = await t.api.call('POST', '/v1/auth/device/code', { form: { client_id: 'gcorp-cli' } });
    const page = await openPage();
    const noCookie = await submit({ csrf: page.csrf, user_code: code.body.user_code, email: admin.email, password: admin.password, action: 'approve' }, '');
    expect(noCookie.status).toBe(400);
    const forged = await submit({ csrf: 'x.y.z', user_code: code.body.user_code, email: admin.email, password: admin.password, action: 'approve' }, page.cookie);
    expect(forged.status).toBe(400);
    const wrong = await submit({ csrf: page.csrf, user_code: code.body.user_code, email: admin.email, password: 'wrong password here', action: 'approve' }, page.cookie);
    expect(wrong.status).toBe(401);
    const still = await t.api.call('POST', '/v1/auth/token', { form: { grant_type: GRANT, device_code: code.body.device_code, client_id: 'gcorp-cli' } });
    expect(still.body.error).toBe('authorization_pending');
  });

  it('answers RFC 6749 errors for unknown clients, grants and codes', async () => {
    const client = await t.api.call('POST', '/v1/auth/device/code', { form: { client_id: 'someone-else' } });
    expect(client.status).toBe(401);
    expect(client.body.error).toBe('invalid_client');
    const grant = await t.api.call('POST', '/v1/auth/token', { form: { grant_type: 'password', client_id: 'gcorp-cli' } });
    expect(grant.body.error).toBe('unsupported_grant_type');
    const unknown = await t.api.call('POST', '/v1/auth/token', { form: { grant_type: GRANT, device_code: 'nope', client_id: 'gcorp-cli' } });
    expect(unknown.body.error).toBe('invalid_grant');
  });

  it('narrows the tokens to the scopes asked for, never beyond the role, across refreshes', async () => {
    const code = await t.api.call('POST', '/v1/auth/device/code', {
      form: { client_id: 'gcorp-cli', scope: 'runs:read usage:read runs:read' },
    });
    expect(code.status).toBe(200);
    const page = await openPage(code.body.user_code);
    const approved = await submit({ csrf: page.csrf, user_code: code.body.user_code, email: admin.email, password: admin.password, action: 'approve' }, page.cookie);
    expect(approved.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100)); // respect the 1 s interval this hub was started with
    const tokens = await t.api.call('POST', '/v1/auth/token', { form: { grant_type: GRANT, device_code: code.body.device_code, client_id: 'gcorp-cli' } });
    expect(tokens.status).toBe(200);
    expect(tokens.body.scope.split(' ').sort()).toEqual(['runs:read', 'usage:read']);

    const narrowed = t.as(tokens.body.access_token);
    expect((await narrowed.call('GET', '/v1/runs')).status).toBe(200);
    const write = await narrowed.call('POST', '/v1/runs', { body: { agent: 'echo', input: {} } });
    expect(write.status).toBe(403);
    const keys = await narrowed.call('GET', '/v1/api-keys');
    expect(keys.status).toBe(403);
    // The admin's own password login still carries every scope of the role: the narrowing belongs to this session.
    expect((await t.as(admin.key).call('GET', '/v1/api-keys')).status).toBe(200);

    const refreshed = await t.api.call('POST', '/v1/auth/token', {
      form: { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: 'gcorp-cli' },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.scope.split(' ').sort()).toEqual(['runs:read', 'usage:read']);
    expect((await t.as(refreshed.body.access_token).call('GET', '/v1/api-keys')).status).toBe(403);
  });

  it('refuses an unknown scope with invalid_scope', async () => {
    const res = await t.api.call('POST', '/v1/auth/device/code', { form: { client_id: 'gcorp-cli', scope: 'runs:read everything' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_scope');
    expect(res.body.error_description).toContain('"everything"');
  });
});
