// Scale-out on loopback (issue 7 item 5): two `gcorp-server start` processes that execute nothing and two
// `gcorp-server worker` processes on one database (and one Redis in the server-pg project). A key revoked through one
// API process fails on the other by NOTIFY (before its cached copy expires), rate limits are shared by both, every run executes exactly once, and a
// graceful stop of one API process drops no run it accepted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContractFetch, type ContractFetch } from '@genericcorp/contract';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { ADMIN_PASSWORD, BOOTSTRAP_TOKEN } from './helpers/hub.js';
import {
  allEvents,
  clientFor,
  mapLimit,
  sleep,
  startApiProcess,
  startWorkerProcess,
  waitForRun,
  type ApiProcess,
  type HubProcess,
  type RunBody,
} from './helpers/processes.js';

let db: TestDatabase;
const apis: ApiProcess[] = [];
const workers: HubProcess[] = [];
let adminKey: string;

interface NewTenant {
  tenantId: string;
  key: string;
}

async function createTenant(admin: ContractFetch, name: string): Promise<NewTenant> {
  const res = await admin.call<{ tenant: { id: string }; api_key: { key: string } }>('POST', '/v1/admin/tenants', {
    body: { name, plan: 'pro', owner_email: `${name.toLowerCase()}@example.com`, owner_password: 'another long password 42' },
  });
  if (res.status !== 201) throw new Error(`createTenant failed: ${res.status} ${res.text}`);
  return { tenantId: res.body.tenant.id, key: res.body.api_key.key };
}

beforeAll(async () => {
  db = await createTestDatabase();
  const opts = { ownerUrl: db.ownerUrl, appUrl: db.appUrl };
  const started = await Promise.all([
    startApiProcess({ ...opts, concurrency: 0 }),
    startApiProcess({ ...opts, concurrency: 0 }),
  ]);
  apis.push(...started);
  workers.push(...(await Promise.all([startWorkerProcess({ ...opts, concurrency: 4 }), startWorkerProcess({ ...opts, concurrency: 4 })])));
  const res = await createContractFetch({ baseUrl: apis[0]!.url }).call<{ api_key: { key: string } }>('POST', '/v1/bootstrap', {
    body: { bootstrap_token: BOOTSTRAP_TOKEN, admin_email: 'admin@example.com', admin_password: ADMIN_PASSWORD, tenant_name: 'Acme' },
  });
  if (res.status !== 201) throw new Error(`bootstrap failed: ${res.status} ${res.text}`);
  adminKey = res.body.api_key.key;
}, 150_000);

afterAll(async () => {
  await Promise.all([...apis, ...workers].map((p) => p.stop().catch(() => undefined)));
  await db?.drop();
}, 60_000);

describe('scale-out: two API processes and two workers on one database', () => {
  it('fails a key revoked through API 1 on API 2 by NOTIFY, before its cached copy expires', { timeout: 120_000 }, async () => {
    const tenant = await createTenant(clientFor(apis[0]!.url, adminKey), 'Revoke');
    const created = await clientFor(apis[0]!.url, tenant.key).call<{ id: string; key: string }>('POST', '/v1/api-keys', {
      body: { name: 'revoke-me', scopes: ['runs:read'] },
    });
    expect(created.status).toBe(201);
    const onApi2 = clientFor(apis[1]!.url, created.body.key);
    // Warm API 2's caches with the key. The cached copy lives 30 s (the default keyCacheTtlMs, which the processes
    // cannot be given otherwise): a 401 within the 10 s budget below, counted from the warm-up, came by NOTIFY.
    const warmed = Date.now();
    for (let i = 0; i < 3; i++) expect((await onApi2.call('GET', '/v1/me')).status).toBe(200);

    const revoked = await clientFor(apis[0]!.url, tenant.key).call<{ revoked_at: string | null }>('DELETE', `/v1/api-keys/${created.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toBeTruthy();
    let status: number;
    for (;;) {
      status = (await onApi2.call('GET', '/v1/me')).status;
      if (status === 401 || Date.now() - warmed > 10_000) break;
      await sleep(10);
    }
    expect(status).toBe(401);
    // And it stays refused on both.
    expect((await onApi2.call('GET', '/v1/me')).status).toBe(401);
    expect((await clientFor(apis[0]!.url, created.body.key).call('GET', '/v1/me')).status).toBe(401);
  });

  it('shares one rate limit between both API processes', { timeout: 120_000 }, async () => {
    const limit = 20;
    const tenant = await createTenant(clientFor(apis[0]!.url, adminKey), 'Limits');
    const patched = await clientFor(apis[0]!.url, adminKey).call('PATCH', `/v1/admin/tenants/${tenant.tenantId}`, {
      body: { limits: { requests_per_minute: limit } },
    });
    expect(patched.status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < limit + 10; i++) {
      const res = await clientFor(apis[i % 2]!.url, tenant.key).call('GET', '/v1/me');
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.body.code).toBe('rate_limited');
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(limit);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    expect(statuses.slice(0, limit).every((s) => s === 200)).toBe(true);
  });

  it('runs every run once and drops none when API 2 stops gracefully', { timeout: 120_000 }, async () => {
    const tenant = await createTenant(clientFor(apis[0]!.url, adminKey), 'Runs');
    const api1 = clientFor(apis[0]!.url, tenant.key);
    const api2 = clientFor(apis[1]!.url, tenant.key);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await [api1, api2][i % 2]!.call<RunBody>('POST', '/v1/runs', { body: { agent: 'echo', input: { n: i, delay_ms: 200 } } });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    // Right after the last accepted run: a graceful stop of API 2.
    const stopped = apis[1]!.stop(30_000);
    const exit = await apis[1]!.exited;
    await stopped;
    expect(exit.signal, apis[1]!.output()).not.toBe('SIGKILL');

    const finals = await mapLimit(ids, 10, (id) => waitForRun(api1, id, 90_000));
    for (const [i, run] of finals.entries()) {
      expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
      expect(run.output).toEqual({ n: i, delay_ms: 200 });
      const events = await allEvents(api1, run.id);
      expect(events.filter((e) => e.type === 'run.started')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'run.completed')).toHaveLength(1);
    }
  });
});
