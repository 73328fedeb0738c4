// Rate limits: RateLimit headers, 429 with Retry-After, limits shared by server processes (Redis in the server-pg
// project, PostgreSQL in server-embedded), sign-in limits, a dead Redis, and limits switched off.
import { Writable } from 'node:stream';
import { createContractFetch, type ContractFetch, type ContractResponse } from '@genericcorp/contract';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_PLANS } from '../src/config.js';
import { bootstrap, createTenant, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** The pro plan's requests per minute in these hubs: small enough to run out of in a test. */
const RPM = 5;
const plans = { ...DEFAULT_PLANS, pro: { ...DEFAULT_PLANS.pro, requests_per_minute: RPM } };
const STORE = process.env.REDIS_URL ? 'Redis' : 'PostgreSQL';

function remaining(res: ContractResponse): { policy: string; r: number; t: number } {
  const m = /^"([^"]+)";r=(\d+);t=(\d+)$/.exec(res.headers['ratelimit'] ?? '');
  if (!m) throw new Error(`no valid RateLimit header in ${res.status} ${JSON.stringify(res.headers)}`);
  return { policy: m[1]!, r: Number(m[2]), t: Number(m[3]) };
}

function policy(res: ContractResponse): { policy: string; q: number; w: number } {
  const m = /^"([^"]+)";q=(\d+);w=(\d+)$/.exec(res.headers['ratelimit-policy'] ?? '');
  if (!m) throw new Error(`no valid RateLimit-Policy header in ${res.status} ${JSON.stringify(res.headers)}`);
  return { policy: m[1]!, q: Number(m[2]), w: Number(m[3]) };
}

function expectRateLimited(res: ContractResponse): number {
  expect(res.status).toBe(429);
  expect(res.headers['content-type']).toContain('application/problem+json');
  expect(res.body.code).toBe('rate_limited');
  expect(res.body.type).toBe('https://docs.genericcorp.dev/problems/rate_limited');
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  return retryAfter;
}

/** A counter's value in the hub's registry (read in-process: GET /metrics also reads the queue, which Redis backs). */
async function storeErrors(t: TestHub, store: string): Promise<number> {
  const counter = t.hub.app.hub.metrics.registry.getSingleMetric('gcorp_rate_limit_store_errors_total');
  if (!counter) return 0;
  const { values } = await counter.get();
  return values.find((v) => v.labels.store === store)?.value ?? 0;
}

describe('per credential and per tenant', () => {
  let t: TestHub;
  let admin: Tenant;

  beforeAll(async () => {
    t = await startTestHub({ plans, workerConcurrency: 0 });
    admin = await bootstrap(t);
  });
  afterAll(async () => t?.close());

  it('reports the limit on every authenticated response, then refuses the request past it with 429 and Retry-After', async () => {
    const tenant = await createTenant(t, admin, 'Headers', 'pro');
    const api = t.as(tenant.key);
    const seen: number[] = [];
    for (let i = 0; i < RPM; i++) {
      const res = await api.call('GET', '/v1/me');
      expect(res.status).toBe(200);
      expect(policy(res)).toEqual({ policy: 'default', q: RPM, w: 60 });
      const { policy: name, r, t: reset } = remaining(res);
      expect(name).toBe('default');
      expect(reset).toBeGreaterThan(0);
      expect(reset).toBeLessThanOrEqual(60);
      seen.push(r);
    }
    expect(seen).toEqual([4, 3, 2, 1, 0]);

    const refused = await api.call('GET', '/v1/me');
    const retryAfter = expectRateLimited(refused);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.body.detail).toContain(`${RPM} requests per 60 seconds for this credential`);
    expect(policy(refused).q).toBe(RPM);
    expect(remaining(refused).r).toBe(0);

    // Refused before anything else runs: an invalid body is not even validated.
    const invalid = await api.call('POST', '/v1/agents', { body: { nonsense: true } });
    expectRateLimited(invalid);

    // Unauthenticated answers carry no rate-limit headers; other tenants are not affected.
    const anonymous = await t.api.call('GET', '/v1/me');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['ratelimit']).toBeUndefined();
    const other = await t.as(admin.key).call('GET', '/v1/me');
    expect(other.status).toBe(200);
    expect(policy(other).q).toBe(DEFAULT_PLANS.business.requests_per_minute);
  });

  it('limits the tenant as a whole: a second key is refused once the tenant used its minute, and the headers show the tighter limit', async () => {
    const tenant = await createTenant(t, admin, 'Shared', 'pro');
    const first = t.as(tenant.key);
    const created = await first.call('POST', '/v1/api-keys', { body: { name: 'second', scopes: ['runs:read'] } }); // key 1, tenant 1
    expect(created.status).toBe(201);
    const second = t.as(created.body.key);
    expect((await first.call('GET', '/v1/me')).status).toBe(200); // key 2, tenant 2
    expect((await first.call('GET', '/v1/me')).status).toBe(200); // key 3, tenant 3
    const a = await second.call('GET', '/v1/me'); // second key 1, tenant 4
    expect(remaining(a).r).toBe(1); // the tenant's 1 left, not the second key's 4
    expect((await second.call('GET', '/v1/me')).status).toBe(200); // second key 2, tenant 5
    const refused = await second.call('GET', '/v1/me');
    expectRateLimited(refused);
    expect(refused.body.detail).toContain(`${RPM} requests per 60 seconds for this tenant`);
  });

  it('counts per session for access tokens', async () => {
    const tenant = await createTenant(t, admin, 'Sessions', 'pro');
    const session = await t.api.call('POST', '/v1/auth/login', { body: { email: tenant.email, password: tenant.password } });
    expect(session.status).toBe(200);
    const api = t.as(session.body.access_token);
    for (let i = 0; i < RPM; i++) expect((await api.call('GET', '/v1/me')).status).toBe(200);
    expectRateLimited(await api.call('GET', '/v1/me'));
  });

  it('puts the headers on problems of an identified caller too (insufficient scope, suspended tenant)', async () => {
    const tenant = await createTenant(t, admin, 'Problems', 'pro');
    const narrow = await t.as(tenant.key).call('POST', '/v1/api-keys', { body: { name: 'narrow', scopes: ['runs:read'] } });
    const forbidden = await t.as(narrow.body.key).call('GET', '/v1/api-keys');
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe('insufficient_scope');
    expect(policy(forbidden).q).toBe(RPM);
    expect(remaining(forbidden).r).toBe(RPM - 2); // the tenant counted both requests

    const suspended = await t.as(admin.key).call('PATCH', `/v1/admin/tenants/${tenant.tenantId}`, { body: { suspended: true } });
    expect(suspended.status).toBe(200);
    const refused = await t.as(tenant.key).call('GET', '/v1/me');
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('tenant_suspended');
    expect(remaining(refused).r).toBe(RPM - 3);
  });

  it("counts requests from this process's share of the limit with the same headers as from the store", async () => {
    const tenant = await createTenant(t, admin, 'Leased', 'pro');
    const limit = 320; // the first request takes a share of 20 points; the next ones are counted from it in memory
    const patched = await t.as(admin.key).call('PATCH', `/v1/admin/tenants/${tenant.tenantId}`, { body: { limits: { requests_per_minute: limit } } });
    expect(patched.status).toBe(200);
    const first = t.as(tenant.key);
    const rs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await first.call('GET', '/v1/me');
      expect(res.status).toBe(200);
      expect(policy(res)).toEqual({ policy: 'default', q: limit, w: 60 });
      const { t: reset } = remaining(res);
      expect(reset).toBeGreaterThan(0);
      expect(reset).toBeLessThanOrEqual(60);
      rs.push(remaining(res).r);
    }
    expect(rs).toEqual([limit - 1, limit - 2, limit - 3]);
    const created = await first.call('POST', '/v1/api-keys', { body: { name: 'second', scopes: ['runs:read'] } });
    expect(created.status).toBe(201);
    expect(remaining(created).r).toBe(limit - 4);
    // A second key has its own count but shares the tenant's: the headers show the tenant's, the tighter one.
    const second = t.as(created.body.key);
    const me = await second.call('GET', '/v1/me');
    expect(policy(me).q).toBe(limit);
    expect(remaining(me).r).toBe(limit - 5);
    // Refused by its scopes after being identified: still counted, and answered with the headers.
    const forbidden = await second.call('GET', '/v1/api-keys');
    expect(forbidden.status).toBe(403);
    expect(remaining(forbidden).r).toBe(limit - 6);
    expect(remaining(await first.call('GET', '/v1/me')).r).toBe(limit - 7);
  });

  it("applies a tenant's own requests_per_minute as soon as the instance admin sets it", async () => {
    const tenant = await createTenant(t, admin, 'Override', 'pro');
    const api = t.as(tenant.key);
    expect(policy(await api.call('GET', '/v1/me')).q).toBe(RPM);
    const patched = await t.as(admin.key).call('PATCH', `/v1/admin/tenants/${tenant.tenantId}`, { body: { limits: { requests_per_minute: 2 } } });
    expect(patched.status).toBe(200);
    const res = await api.call('GET', '/v1/me');
    expect(res.status).toBe(200);
    expect(policy(res).q).toBe(2);
    expectRateLimited(await api.call('GET', '/v1/me'));
  });
});

describe(`across server processes sharing ${STORE}`, () => {
  let t: TestHub;
  let admin: Tenant;
  let other: ContractFetch;

  beforeAll(async () => {
    t = await startTestHub({ plans, workerConcurrency: 0 });
    admin = await bootstrap(t);
    const sibling = await t.sibling({ plans, workerConcurrency: 0 });
    other = createContractFetch({ baseUrl: sibling.url });
  });
  afterAll(async () => t?.close());

  it('holds one limit for a key used on two processes', async () => {
    expect(t.hub.config.redisUrl).toBe(process.env.REDIS_URL);
    const tenant = await createTenant(t, admin, 'Twice', 'pro');
    const auth = { authorization: `Bearer ${tenant.key}` };
    const rs: number[] = [];
    for (let i = 0; i < RPM; i++) {
      const api = i % 2 === 0 ? t.as(tenant.key) : other;
      const res = await api.call('GET', '/v1/me', { headers: auth });
      expect(res.status).toBe(200);
      rs.push(remaining(res).r);
    }
    expect(rs).toEqual([4, 3, 2, 1, 0]);
    expectRateLimited(await other.call('GET', '/v1/me', { headers: auth }));
    expectRateLimited(await t.as(tenant.key).call('GET', '/v1/me', { headers: auth }));
  });

  it('lets exactly the limit through when both processes are hit at once', async () => {
    const tenant = await createTenant(t, admin, 'Burst', 'pro');
    const auth = { authorization: `Bearer ${tenant.key}` };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? t.as(tenant.key) : other).call('GET', '/v1/me', { headers: auth })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(RPM);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20 - RPM);
  });

  it('hands out exactly the limit when processes take points in shares, and reports what is left exactly', async () => {
    const tenant = await createTenant(t, admin, 'Shares', 'pro');
    const limit = 40; // processes take 1/16 of what is left at a time: 2 points, then fewer
    const patched = await t.as(admin.key).call('PATCH', `/v1/admin/tenants/${tenant.tenantId}`, { body: { limits: { requests_per_minute: limit } } });
    expect(patched.status).toBe(200);
    const auth = { authorization: `Bearer ${tenant.key}` };
    const rs: number[] = [];
    for (let i = 0; i < 3; i++) rs.push(remaining(await t.as(tenant.key).call('GET', '/v1/me')).r);
    expect(rs).toEqual([limit - 1, limit - 2, limit - 3]);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? t.as(tenant.key) : other).call('GET', '/v1/me', { headers: auth })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(limit - 3);
    expect(results.filter((r) => r.status === 429)).toHaveLength(60 - (limit - 3));
  });

  it("keeps windows on the store's clock: a server whose clock is off neither restarts nor shortens them", async () => {
    const tenant = await createTenant(t, admin, 'Skewed', 'pro');
    const auth = { authorization: `Bearer ${tenant.key}` };
    // This server's clock runs 5 minutes late while it opens the window: the window still lasts a minute.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 5 * 60_000 });
    try {
      for (let i = 0; i < RPM; i++) expect((await t.as(tenant.key).call('GET', '/v1/me')).status).toBe(200);
    } finally {
      vi.useRealTimers();
    }
    const refused = await other.call('GET', '/v1/me', { headers: auth });
    expectRateLimited(refused);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(30);
    // And jumping 5 minutes ahead does not end it either.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 5 * 60_000 });
    try {
      expectRateLimited(await t.as(tenant.key).call('GET', '/v1/me'));
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('sign-in limits', () => {
  let t: TestHub;
  let admin: Tenant;

  beforeAll(async () => {
    t = await startTestHub({ workerConcurrency: 0 });
    admin = await bootstrap(t);
  });
  afterAll(async () => t?.close());

  it('refuses an account after 10 wrong passwords from one address, while another account still logs in', async () => {
    const victim = await createTenant(t, admin, 'Victim', 'pro');
    const wrong = { email: victim.email.toUpperCase(), password: 'not the password at all' };
    for (let i = 0; i < 10; i++) {
      const res = await t.api.call('POST', '/v1/auth/login', { body: wrong });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_credentials');
    }
    const refused = await t.api.call('POST', '/v1/auth/login', { body: { email: victim.email, password: victim.password } });
    const retryAfter = expectRateLimited(refused);
    expect(retryAfter).toBeGreaterThan(60); // the 15-minute window
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect(refused.body.detail).toContain('10 failed sign-ins per 900 seconds to this account');

    // The device page's sign-in counts against the same account: refused before its form is even looked at.
    const page = await t.api.call('POST', '/device', { form: { user_code: 'ABCD-EFGH', email: victim.email, password: victim.password, action: 'approve' } });
    expectRateLimited(page);

    const fine = await t.api.call('POST', '/v1/auth/login', { body: { email: admin.email, password: admin.password } });
    expect(fine.status).toBe(200);
  });

  it('counts only failures: a successful login clears the count', async () => {
    const user = await createTenant(t, admin, 'Forgetful', 'pro');
    const attempt = (password: string) => t.api.call('POST', '/v1/auth/login', { body: { email: user.email, password } });
    for (let i = 0; i < 8; i++) expect((await attempt('wrong password number ' + i)).status).toBe(401);
    expect((await attempt(user.password)).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await attempt('wrong again ' + i)).status).toBe(401);
    expectRateLimited(await attempt('one too many'));
  });

  it('limits the device-code poll per client address with a problem, not an OAuth error', async () => {
    // A hub of its own: the address limit counts every sign-in request from 127.0.0.1.
    const hub = await startTestHub({ workerConcurrency: 0 });
    try {
      const poll = () => hub.api.call('POST', '/v1/auth/token', { form: { grant_type: GRANT, device_code: 'no-such-device-code', client_id: 'gcorp-cli' } });
      const first = await Promise.all(Array.from({ length: 100 }, poll));
      expect(first.every((r) => r.status === 400 && r.body.error === 'invalid_grant')).toBe(true);
      const refused = await poll();
      expectRateLimited(refused);
      expect(refused.body.detail).toContain('100 sign-in requests per 60 seconds from this address');
      expect(policy(refused)).toEqual({ policy: 'sign-in', q: 100, w: 60 });
      // The refresh grant is not a sign-in and is not limited here.
      const refresh = await hub.api.call('POST', '/v1/auth/token', { form: { grant_type: 'refresh_token', refresh_token: 'gcr_nope', client_id: 'gcorp-cli' } });
      expect(refresh.status).toBe(400);
      expect(refresh.body.error).toBe('invalid_grant');
    } finally {
      await hub.close();
    }
  });
});

describe('with Redis down', () => {
  let t: TestHub;
  let admin: Tenant;
  const logs: string[] = [];

  beforeAll(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    // Nothing listens on port 1: every rate-limit store operation fails at once.
    t = await startTestHub({ plans, redisUrl: 'redis://127.0.0.1:1', workerConcurrency: 0, logLevel: 'warn', logger: { level: 'warn', stream } });
    admin = await bootstrap(t);
  });
  afterAll(async () => t?.close());

  it('keeps serving with local counters, warns once and counts the store errors', async () => {
    const before = await storeErrors(t, 'redis');
    const tenant = await createTenant(t, admin, 'Local', 'pro');
    const api = t.as(tenant.key);
    const statuses: number[] = [];
    for (let i = 0; i < RPM; i++) {
      const res = await api.call('GET', '/v1/me');
      statuses.push(res.status);
      expect(policy(res).q).toBe(RPM);
      expect(remaining(res).r).toBe(RPM - 1 - i);
    }
    expect(statuses).toEqual(Array(RPM).fill(200));
    expectRateLimited(await api.call('GET', '/v1/me'));
    const after = await storeErrors(t, 'redis');
    expect(after).toBeGreaterThanOrEqual(before + 2 * RPM);
    const warnings = logs.filter((l) => l.includes('rate limit store (redis) unavailable'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!).level).toBe(40);
  });

  it('still limits sign-ins', async () => {
    for (let i = 0; i < 10; i++) expect((await t.api.call('POST', '/v1/auth/login', { body: { email: admin.email, password: 'wrong wrong wrong' } })).status).toBe(401);
    expectRateLimited(await t.api.call('POST', '/v1/auth/login', { body: { email: admin.email, password: admin.password } }));
  });
});

describe('with limits switched off', () => {
  let t: TestHub;
  let admin: Tenant;

  beforeAll(async () => {
    t = await startTestHub({ plans, limitsEnabled: false, workerConcurrency: 0 });
    admin = await bootstrap(t);
  });
  afterAll(async () => t?.close());

  it('sends no rate-limit headers and refuses nothing', async () => {
    const tenant = await createTenant(t, admin, 'Unlimited', 'pro');
    for (let i = 0; i < RPM * 2; i++) {
      const res = await t.as(tenant.key).call('GET', '/v1/me');
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit']).toBeUndefined();
      expect(res.headers['ratelimit-policy']).toBeUndefined();
    }
    for (let i = 0; i < 11; i++) {
      expect((await t.api.call('POST', '/v1/auth/login', { body: { email: tenant.email, password: 'wrong wrong wrong' } })).status).toBe(401);
    }
    const metrics = await t.api.call('GET', '/metrics');
    expect(metrics.text).not.toContain('gcorp_rate_limit');
  });
});
