// Idempotency-Key on POST /v1/runs (and the other POSTs): the same key and body replay the first response, another body
// is 422, a duplicate while the first is in flight is 409 (or a replay), keys are scoped to the tenant and the
// operation, kept 24 h, and the line between concurrent requests is held by the database.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractFetch } from '@genericcorp/contract';
import { ownerQuery } from './helpers/db.js';
import { bootstrap, createTenant, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';
import { clientFor, waitForRun, type RunBody } from './helpers/processes.js';

let t: TestHub;
let admin: Tenant;
let tenants = 0;

beforeAll(async () => {
  t = await startTestHub();
  admin = await bootstrap(t);
});
afterAll(async () => t?.close());

/** A fresh tenant, so that its run list shows exactly what a test created. */
async function freshTenant(): Promise<{ tenant: Tenant; api: ContractFetch }> {
  const tenant = await createTenant(t, admin, `Idem ${++tenants}`, 'business');
  return { tenant, api: clientFor(t.url, tenant.key) };
}

async function runCount(api: ContractFetch): Promise<number> {
  const res = await api.call<{ data: RunBody[]; next_cursor: string | null }>('GET', '/v1/runs?limit=100');
  expect(res.status).toBe(200);
  return res.body.data.length;
}

function post(api: ContractFetch, key: string, body: unknown, path = '/v1/runs') {
  return api.call('POST', path, { body, headers: { 'idempotency-key': key } });
}

async function keyRow(tenantId: string, key: string) {
  const res = await ownerQuery<{ operation: string; fingerprint: string; state: string; created_at: Date; expires_at: Date }>(
    t.ownerUrl,
    'select operation, fingerprint, state, created_at, expires_at from idempotency_keys where tenant_id = $1 and key = $2',
    [tenantId, key],
  );
  return res.rows;
}

describe('runs: Idempotency-Key on POST /v1/runs', () => {
  it('replays the first response for the same key and body, without starting a second run', async () => {
    const { tenant, api } = await freshTenant();
    const key = randomUUID();
    const body = { agent: 'echo', input: { a: 1, b: [1, 2] }, metadata: { source: 'retry' } };
    const first = await post(api, key, body);
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    const again = await post(api, key, body);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(again.headers['content-type']).toMatch(/^application\/json/);
    expect(again.headers['x-request-id']).toBeTruthy();
    expect(again.headers['x-request-id']).not.toBe(first.headers['x-request-id']);

    // The same payload with its object keys in another order is the same request.
    const reordered = await post(api, key, { metadata: { source: 'retry' }, input: { b: [1, 2], a: 1 }, agent: 'echo' });
    expect(reordered.status).toBe(201);
    expect(reordered.headers['idempotent-replayed']).toBe('true');
    expect(reordered.body.id).toBe(first.body.id);

    // Once the run has finished, a retry still replays the creation response (not the run's current state).
    await waitForRun(api, first.body.id);
    const late = await post(api, key, body);
    expect(late.status).toBe(201);
    expect(late.body).toEqual(first.body);
    expect(await runCount(api)).toBe(1);

    // Kept for 24 hours.
    const [row] = await keyRow(tenant.tenantId, key);
    expect(row!.state).toBe('done');
    expect(row!.expires_at.getTime() - row!.created_at.getTime()).toBe(24 * 3600 * 1000);
  });

  it('answers 422 idempotency_key_reused for the same key with another body', async () => {
    const { api } = await freshTenant();
    const key = randomUUID();
    expect((await post(api, key, { agent: 'echo', input: 1 })).status).toBe(201);
    const other = await post(api, key, { agent: 'echo', input: 2 });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect(await runCount(api)).toBe(1);
  });

  it('lets exactly one of many concurrent duplicates through: the others are 409 or replays of it', { timeout: 30_000 }, async () => {
    const { api } = await freshTenant();
    for (let round = 0; round < 3; round++) {
      const key = randomUUID();
      const body = { agent: 'echo', input: { round } };
      const answers = await Promise.all(Array.from({ length: 20 }, () => post(api, key, body)));
      const created = answers.filter((a) => a.status === 201 && a.headers['idempotent-replayed'] === undefined);
      const replayed = answers.filter((a) => a.status === 201 && a.headers['idempotent-replayed'] === 'true');
      const inFlight = answers.filter((a) => a.status === 409);
      expect(created).toHaveLength(1);
      expect(replayed.length + inFlight.length).toBe(19);
      for (const r of replayed) expect(r.body.id).toBe(created[0]!.body.id);
      for (const c of inFlight) {
        expect(c.body).toMatchObject({ status: 409, code: 'idempotency_key_in_use' });
        expect(c.headers['retry-after']).toBeTruthy();
      }
    }
    expect(await runCount(api)).toBe(3);
  });

  it('answers 409 idempotency_key_in_use while the first request is in flight, and takes over a lapsed one', async () => {
    const { tenant, api } = await freshTenant();
    // Learn how the server names this operation and fingerprints this body from a request of its own.
    const probe = randomUUID();
    const body = { agent: 'echo', input: { in_flight: true } };
    expect((await post(api, probe, body)).status).toBe(201);
    const [learned] = await keyRow(tenant.tenantId, probe);

    // Another process holds the key and is still working on it.
    const key = randomUUID();
    await ownerQuery(
      t.ownerUrl,
      `insert into idempotency_keys (tenant_id, operation, key, fingerprint, state, locked_until)
       values ($1, $2, $3, $4, 'in_flight', now() + interval '1 minute')`,
      [tenant.tenantId, learned!.operation, key, learned!.fingerprint],
    );
    const busy = await post(api, key, body);
    expect(busy.status).toBe(409);
    expect(busy.body.code).toBe('idempotency_key_in_use');
    expect(busy.headers['retry-after']).toBeTruthy();
    // Another body is still 422, in flight or not.
    expect((await post(api, key, { agent: 'echo', input: 'else' })).status).toBe(422);

    // Its process died: once the in-flight lock has lapsed, the retry runs.
    await ownerQuery(t.ownerUrl, `update idempotency_keys set locked_until = now() - interval '1 second' where tenant_id = $1 and key = $2`, [
      tenant.tenantId,
      key,
    ]);
    const retried = await post(api, key, body);
    expect(retried.status).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(await runCount(api)).toBe(2);
  });

  it('forgets a key after its 24 hours', async () => {
    const { tenant, api } = await freshTenant();
    const key = randomUUID();
    const body = { agent: 'echo', input: 'expire me' };
    const first = await post(api, key, body);
    expect(first.status).toBe(201);
    await ownerQuery(t.ownerUrl, `update idempotency_keys set expires_at = now() - interval '1 second' where tenant_id = $1 and key = $2`, [
      tenant.tenantId,
      key,
    ]);
    const second = await post(api, key, body);
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.body.id).not.toBe(first.body.id);
  });

  it('scopes keys to the tenant', async () => {
    const a = await freshTenant();
    const b = await freshTenant();
    const key = randomUUID();
    const body = { agent: 'echo', input: 'shared key' };
    const ra = await post(a.api, key, body);
    const rb = await post(b.api, key, body);
    expect(ra.status).toBe(201);
    expect(rb.status).toBe(201);
    expect(rb.headers['idempotent-replayed']).toBeUndefined();
    expect(rb.body.id).not.toBe(ra.body.id);
    // And B's run is B's: A cannot see it.
    expect((await a.api.call('GET', `/v1/runs/${rb.body.id}`)).status).toBe(404);
  });

  it('scopes keys to the operation (method and path)', async () => {
    const { api } = await freshTenant();
    const key = randomUUID();
    const run1 = await post(api, key, { agent: 'echo', input: { delay_ms: 30_000 } });
    expect(run1.status).toBe(201);
    const agent = await post(api, key, { name: 'idem-agent', runtime: 'model', config: { model: 'm' } }, '/v1/agents');
    expect(agent.status).toBe(201);
    expect(agent.headers['idempotent-replayed']).toBeUndefined();
    expect(agent.body.name).toBe('idem-agent');

    // Cancel of two different runs with one key: two operations (their paths differ).
    const run2 = await post(api, randomUUID(), { agent: 'echo', input: { delay_ms: 30_000 } });
    const c1 = await api.call('POST', `/v1/runs/${run1.body.id}/cancel`, { headers: { 'idempotency-key': key } });
    const c2 = await api.call('POST', `/v1/runs/${run2.body.id}/cancel`, { headers: { 'idempotency-key': key } });
    expect([200, 202]).toContain(c1.status);
    expect([200, 202]).toContain(c2.status);
    expect(c2.headers['idempotent-replayed']).toBeUndefined();
    expect(c2.body.id).toBe(run2.body.id);
    for (const id of [run1.body.id, run2.body.id]) expect((await waitForRun(api, id, 10_000)).status).toBe('cancelled');
  });

  it('replays an error answer too, and refuses malformed keys', async () => {
    const { api } = await freshTenant();
    const key = randomUUID();
    const missing = await post(api, key, { agent: 'no-such-agent', input: {} });
    expect(missing.status).toBe(404);
    const again = await post(api, key, { agent: 'no-such-agent', input: {} });
    expect(again.status).toBe(404);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.code).toBe(missing.body.code);

    const tooLong = await post(api, 'k'.repeat(256), { agent: 'echo', input: 1 });
    expect(tooLong.status).toBe(400);
    expect(await runCount(api)).toBe(0);
  });
});
