import { createContractFetch, type ContractResponse } from '@genericcorp/contract';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ownerQuery } from './helpers/db.js';
import { ADMIN_PASSWORD, BOOTSTRAP_TOKEN, bootstrap, createTenant, login, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

let t: TestHub;
let admin: Tenant;

beforeAll(async () => {
  // A generous refresh reuse grace, so that no test depends on how fast the machine answers; siblings with no grace
  // (0) and a short one (1 s) test theft detection.
  t = await startTestHub({ refreshReuseGraceSeconds: 300 });
});
afterAll(async () => t?.close());

/** The session (`sid` claim) an access token belongs to. */
function sessionOf(accessToken: string): string {
  return (JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as { sid: string }).sid;
}

/**
 * Runs `exchanges` of one session's refresh token at the same moment: a connection of the test holds the token's row
 * while they start, until each is in flight and waits for it in PostgreSQL; released, one of them uses the token and
 * the others find it used a moment before, as when two processes get the same token at once.
 */
async function together(accessToken: string, exchanges: (() => Promise<ContractResponse>)[]): Promise<ContractResponse[]> {
  const holder = new pg.Client({ connectionString: t.ownerUrl, application_name: 'gcorp-test-holder' });
  // Another connection watches: inside the holder's transaction, pg_stat_activity would stay as first read.
  const watcher = new pg.Client({ connectionString: t.ownerUrl, application_name: 'gcorp-test-watcher' });
  await holder.connect();
  await watcher.connect();
  try {
    await holder.query('begin');
    await holder.query('select id from refresh_tokens where session_id = $1 for update', [sessionOf(accessToken)]);
    let settled = false;
    const running = Promise.all(exchanges.map((exchange) => exchange())).finally(() => (settled = true));
    running.catch(() => undefined); // awaited below; a failure must not go unhandled while the lock is held
    // (Should they finish without waiting, that is a bug the assertions on their answers will show.)
    while (!settled) {
      const waiting = await watcher.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity
          where datname = current_database() and application_name = 'gcorp-server' and wait_event_type = 'Lock'
            and query like 'update refresh_tokens%'`,
      );
      if (waiting.rows[0]!.n >= exchanges.length) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await holder.query('commit');
    return await running;
  } finally {
    await holder.end();
    await watcher.end();
  }
}

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

  it('rotates refresh tokens, and with no grace (0) an immediate replay revokes the whole family', async () => {
    const strict = createContractFetch({ baseUrl: (await t.sibling({ refreshReuseGraceSeconds: 0, workerConcurrency: 0 })).url });
    const first = await login(t, admin);
    const second = await strict.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    // Replaying the used token is a sign of theft: the session ends, including the newest tokens.
    const replay = await strict.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe('invalid_refresh_token');
    expect(replay.body.detail).toContain('already used');
    const afterReplay = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: second.body.refresh_token } });
    expect(afterReplay.status).toBe(401);
    const me = await t.as(second.body.access_token).call('GET', '/v1/me');
    expect(me.status).toBe(401);
    expect(me.body.code).toBe('session_revoked');
  });

  it('within the grace, a replayed refresh token gets its own working pair and the session stays', async () => {
    const first = await login(t, admin);
    const a = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(a.status).toBe(200);
    // The same token again (a second process, a parallel CLI command, a retry after a lost response).
    const b = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(b.status).toBe(200);
    // And once more through the OAuth token endpoint: the same rules.
    const c = await t.api.call('POST', '/v1/auth/token', {
      form: { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'gcorp-cli' },
    });
    expect(c.status).toBe(200);
    const pairs = [a.body, b.body, c.body] as { access_token: string; refresh_token: string; scope: string }[];
    expect(new Set(pairs.map((p) => p.refresh_token)).size).toBe(3);
    expect(pairs.map((p) => p.refresh_token)).not.toContain(first.refresh_token);
    const sessions = new Set([first.access_token, ...pairs.map((p) => p.access_token)].map(sessionOf));
    expect(sessions.size).toBe(1); // one session, not new sign-ins
    for (const pair of pairs) {
      expect(pair.scope).toBe(a.body.scope);
      const me = await t.as(pair.access_token).call('GET', '/v1/me');
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ kind: 'user', role: 'owner', user: { email: admin.email } });
    }
    // Each new refresh token works (once, like any other); what they yield works too.
    for (const pair of pairs) {
      const next = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: pair.refresh_token } });
      expect(next.status).toBe(200);
      expect(sessionOf(next.body.access_token)).toBe(sessionOf(first.access_token));
      expect((await t.as(next.body.access_token).call('GET', '/v1/me')).status).toBe(200);
    }
    expect((await t.as(first.access_token).call('GET', '/v1/me')).status).toBe(200);
  });

  it('within the grace, a replay gets the session\'s narrowed scopes and the current role; a removed member gets nothing', async () => {
    const globex = await createTenant(t, admin, 'Globex');
    const first = await login(t, globex);
    const a = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(a.status).toBe(200);
    expect(a.body.scope.split(' ')).toContain('keys:manage');
    // The session narrowed to two scopes (as a device authorization with `scope` does), and the owner made a member.
    await ownerQuery(t.ownerUrl, "update auth_sessions set scopes = '{runs:read,keys:manage}' where id = $1", [sessionOf(first.access_token)]);
    await ownerQuery(t.ownerUrl, "update memberships set role = 'member' where user_id = $1", [globex.userId]);
    const b = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(b.status).toBe(200);
    expect(b.body.scope).toBe('runs:read'); // keys:manage is beyond a member
    const me = await t.as(b.body.access_token).call('GET', '/v1/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ role: 'member', scopes: ['runs:read'] });
    expect((await t.as(b.body.access_token).call('GET', '/v1/api-keys')).status).toBe(403);

    // Removing the membership ends its sessions: the replay fails as any refresh would.
    await ownerQuery(t.ownerUrl, 'delete from memberships where user_id = $1', [globex.userId]);
    const gone = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(gone.status).toBe(401);
    expect(gone.body.code).toBe('invalid_refresh_token');
  });

  it('an expired refresh token fails within the grace too', async () => {
    const first = await login(t, admin);
    const a = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(a.status).toBe(200);
    await ownerQuery(t.ownerUrl, "update refresh_tokens set expires_at = now() - interval '1 second' where session_id = $1", [sessionOf(first.access_token)]);
    const replay = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(replay.status).toBe(401);
    expect(replay.body.detail).toContain('expired');
    // An expired token is no sign of theft: the session lives on (its access token still works).
    expect((await t.as(a.body.access_token).call('GET', '/v1/me')).status).toBe(200);
  });

  it('two exchanges of one token at the same moment, on two server processes, both get a working pair', async () => {
    const other = createContractFetch({ baseUrl: (await t.sibling({ workerConcurrency: 0 })).url });
    const first = await login(t, admin);
    const both = await together(first.access_token, [
      () => t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } }),
      () => other.call('POST', '/v1/auth/token', { form: { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'gcorp-cli' } }),
    ]);
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    expect(both[0]!.body.refresh_token).not.toBe(both[1]!.body.refresh_token);
    for (const r of both) {
      expect(sessionOf(r.body.access_token)).toBe(sessionOf(first.access_token));
      expect((await t.as(r.body.access_token).call('GET', '/v1/me')).status).toBe(200);
      expect((await other.call('POST', '/v1/auth/refresh', { body: { refresh_token: r.body.refresh_token } })).status).toBe(200);
    }
  });

  it('two exchanges of one token at the same moment with no grace (0): one pair, and the session is revoked', async () => {
    const strict = createContractFetch({ baseUrl: (await t.sibling({ refreshReuseGraceSeconds: 0, workerConcurrency: 0 })).url });
    const first = await login(t, admin);
    const exchange = () => strict.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    const both = await together(first.access_token, [exchange, exchange]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
    const won = both.find((r) => r.status === 200)!;
    expect(both.find((r) => r.status === 401)!.body.code).toBe('invalid_refresh_token');
    expect((await t.as(won.body.access_token).call('GET', '/v1/me')).status).toBe(401);
  });

  it('after the grace, a replay revokes the session: every pair issued before stops working', async () => {
    const short = createContractFetch({ baseUrl: (await t.sibling({ refreshReuseGraceSeconds: 1, workerConcurrency: 0 })).url });
    const first = await login(t, admin);
    const a = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    const b = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } }); // within this hub's grace
    expect([a.status, b.status]).toEqual([200, 200]);
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // longer than the 1 s grace of `short`
    const replay = await short.call('POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe('invalid_refresh_token');
    expect(replay.body.detail).toContain('already used');
    for (const pair of [first, a.body, b.body] as { access_token: string; refresh_token: string }[]) {
      const me = await t.as(pair.access_token).call('GET', '/v1/me');
      expect(me.status).toBe(401);
      expect(me.body.code).toBe('session_revoked');
    }
    for (const pair of [a.body, b.body] as { refresh_token: string }[]) {
      const refresh = await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: pair.refresh_token } });
      expect(refresh.status).toBe(401);
      expect(refresh.body.code).toBe('invalid_refresh_token');
    }
  });

  it('reads GCORP_REFRESH_REUSE_GRACE: 10 s by default, 0 allowed, negative refused', () => {
    expect(loadConfig({}, {}).refreshReuseGraceSeconds).toBe(10);
    expect(loadConfig({}, { GCORP_REFRESH_REUSE_GRACE: '0' }).refreshReuseGraceSeconds).toBe(0);
    expect(loadConfig({}, { GCORP_REFRESH_REUSE_GRACE: '30' }).refreshReuseGraceSeconds).toBe(30);
    expect(() => loadConfig({}, { GCORP_REFRESH_REUSE_GRACE: '-1' })).toThrow(/refreshReuseGraceSeconds/);
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
