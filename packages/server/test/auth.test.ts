import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, BOOTSTRAP_TOKEN, bootstrap, login, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

let t: TestHub;
let admin: Tenant;

beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => t?.close());

describe('bootstrap', () => {
  it('refuses a wrong bootstrap token without creating anything', async () => {
    const res = await t.api.call('POST', '/v1/bootstrap', {
      body: { bootstrap_token: 'wrong-token-0000000000', admin_email: 'x@example.com', admin_password: ADMIN_PASSWORD, tenant_name: 'X' },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('invalid_bootstrap_token');
  });

  it('creates the instance admin, the first tenant and an all-scopes key once', async () => {
    admin = await bootstrap(t);
    expect(admin.key).toMatch(/^gc_live_key_[0-9a-z]{26}_[A-Za-z0-9]{32}$/);
    const me = await t.as(admin.key).call('GET', '/v1/me');
    expect(me.status).toBe(200);
    expect(me.body.kind).toBe('api_key');
    expect(me.body.is_instance_admin).toBe(true);
    expect(me.body.scopes).toEqual(expect.arrayContaining(['instance:admin', 'runs:write', 'tenant:admin', 'keys:manage']));
    expect(me.body.tenant.id).toBe(admin.tenantId);
  });

  it('answers 409 the second time, whatever the token', async () => {
    const res = await t.api.call('POST', '/v1/bootstrap', {
      body: { bootstrap_token: BOOTSTRAP_TOKEN, admin_email: 'y@example.com', admin_password: ADMIN_PASSWORD, tenant_name: 'Y' },
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('already_bootstrapped');
  });
});

describe('login, refresh and logout', () => {
  it('logs in with email and password and answers /v1/me as the user', async () => {
    const tokens = await login(t, admin);
    const me = await t.as(tokens.access_token).call('GET', '/v1/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ kind: 'user', role: 'owner', user: { email: admin.email }, api_key: null });
  });

  it('refuses a wrong password and an unknown account with the same problem', async () => {
    const wrong = await t.api.call('POST', '/v1/auth/login', { body: { email: admin.email, password: 'not the password at all' } });
    const unknown = await t.api.call('POST', '/v1/auth/login', { body: { email: 'nobody@example.com', password: 'not the password at all' } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.code).toBe(unknown.body.code);
    expect(wrong.body.detail).toBe(unknown.body.detail);
  });

  it('rotates refresh tokens, and a replayed one revokes the whole family', async () => {
    const first = await login(t, admin);
    const second = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    // Replaying the used token is a sign of theft: the session ends, including the newest tokens.
    const replay = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe('invalid_refresh_token');
    expect(replay.body.detail).toContain('already used');
    const afterReplay = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: second.body.refresh_token } });
    expect(afterReplay.status).toBe(401);
    const me = await t.as(second.body.access_token).call('GET', '/v1/me');
    expect(me.status).toBe(401);
    expect(me.body.code).toBe('session_revoked');
  });

  it('logout ends the session for the access token and the refresh token', async () => {
    const tokens = await login(t, admin);
    const out = await t.as(tokens.access_token).call('POST', '/v1/auth/logout');
    expect(out.status).toBe(204);
    expect((await t.as(tokens.access_token).call('GET', '/v1/me')).status).toBe(401);
    const refresh = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: tokens.refresh_token } });
    expect(refresh.status).toBe(401);
  });

  it('rejects malformed, forged and unknown bearer tokens with 401 problems', async () => {
    for (const token of ['nonsense', 'gc_live_short_secret', `gc_live_key_${'0'.repeat(26)}_${'A'.repeat(32)}`, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln']) {
      const res = await t.as(token).call('GET', '/v1/me');
      expect(res.status).toBe(401);
      expect(res.body.request_id).toBeTruthy();
    }
    const none = await t.api.call('GET', '/v1/me');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Bearer');
  });
});
