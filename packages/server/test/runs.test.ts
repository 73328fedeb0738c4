import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bootstrap, createTenant, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';
import { pollRun } from './helpers/processes.js';

let t: TestHub;
let admin: Tenant;

beforeAll(async () => {
  // A 60 s lease is renewed every 20 s: a cancelled run seen within the 10 s budget below was stopped by NOTIFY.
  t = await startTestHub({ runLeaseMs: 60_000 });
  admin = await bootstrap(t);
});
afterAll(async () => t?.close());

async function waitFor(id: string, key = admin.key) {
  for (let i = 0; i < 20; i++) {
    const res = await t.as(key).call('GET', `/v1/runs/${id}/wait?timeout=10`);
    if (res.status === 200) return res.body;
  }
  throw new Error(`run ${id} did not finish`);
}

describe('runs: the echo agent end to end', () => {
  it('creates a run that is queued, then succeeds with its input as output and ordered events', async () => {
    const created = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { message: 'hi', events: 3 }, metadata: { source: 'test' } } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ agent: 'echo', status: 'queued', attempt: 1, metadata: { source: 'test' } });
    const done = await waitFor(created.body.id);
    expect(done.status).toBe('succeeded');
    expect(done.output).toEqual({ message: 'hi', events: 3 });
    const events = await t.as(admin.key).call('GET', `/v1/runs/${created.body.id}/events`, { headers: { accept: 'application/json' } });
    const types = events.body.data.map((e: { type: string }) => e.type);
    expect(types[0]).toBe('run.queued');
    expect(types[1]).toBe('run.started');
    expect(types.filter((x: string) => x === 'run.output.delta')).toHaveLength(3);
    expect(types.at(-1)).toBe('run.completed');
    expect(events.body.data.map((e: { seq: number }) => e.seq)).toEqual(types.map((_: string, i: number) => i + 1));
  });

  it('answers a long poll that was waiting with the finished run exactly as a read of it does', async () => {
    // The run finishes while the long poll waits: the worker of this process hands the final row to the waiter.
    const created = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { message: 'later', delay_ms: 300, events: 2 } } });
    expect(created.status).toBe(201);
    const waited = await t.as(admin.key).call('GET', `/v1/runs/${created.body.id}/wait?timeout=10`);
    expect(waited.status).toBe(200);
    expect(waited.body.status).toBe('succeeded');
    const read = await t.as(admin.key).call('GET', `/v1/runs/${created.body.id}`);
    expect(waited.body).toEqual(read.body);
  });

  it('does not abort a long poll it has answered when the request ends', async () => {
    // The signal the route hands the wait aborts only for a client that goes away while it waits: every request's
    // stream closes once it has been answered, and an abort then would be wasted work on every run.
    const wait = vi.spyOn(t.hub.app.hub.services.runs, 'wait');
    try {
      const created = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { message: 'once' } } });
      const waited = await t.as(admin.key).call('GET', `/v1/runs/${created.body.id}/wait?timeout=10`);
      expect(waited.status).toBe(200);
      const signal = wait.mock.calls.at(-1)?.[3];
      expect(signal).toBeInstanceOf(AbortSignal);
      await new Promise((resolve) => setTimeout(resolve, 200)); // the request's 'close' comes right after the answer
      expect(signal?.aborted).toBe(false);
    } finally {
      wait.mockRestore();
    }
  });

  it('fails a run whose agent fails, with a problem object', async () => {
    const created = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { fail: 'boom' } } });
    const done = await waitFor(created.body.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'agent_failed', request_id: expect.any(String) });
  });

  it('times a run out', async () => {
    const created = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { delay_ms: 5000 }, timeout_seconds: 1 } });
    const done = await waitFor(created.body.id);
    expect(done.status).toBe('timed_out');
    expect(done.error.code).toBe('run_timed_out');
  });

  it('cancels a running run: the worker aborts the agent by NOTIFY, before any lease renewal', async () => {
    const created = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { delay_ms: 60000 } } });
    expect(created.status).toBe(201);
    const running = await pollRun(t.as(admin.key), created.body.id, (r) => r.status === 'running');
    expect(running.status).toBe('running');
    const cancel = await t.as(admin.key).call('POST', `/v1/runs/${created.body.id}/cancel`);
    expect(cancel.status).toBe(202);
    // Budget 10 s: far less than the first lease renewal (20 s after the claim) and the 60 s delay of the agent.
    const done = await pollRun(t.as(admin.key), created.body.id, (r) => r.status !== 'running', 10_000);
    expect(done.status).toBe('cancelled');
    const again = await t.as(admin.key).call('POST', `/v1/runs/${created.body.id}/cancel`);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('cancelled');
  });

  it('refuses unknown agents, bad input and bad timeouts with problems', async () => {
    const unknown = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'nope-agent', input: {} } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('agent_not_found');
    const badTimeout = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: {}, timeout_seconds: 0 } });
    expect(badTimeout.status).toBe(400);
    const badInput = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'code-reviewer', input: { nothing: true } } });
    expect(badInput.status).toBe(400);
    expect(badInput.body.code).toBe('input_invalid');
  });

  it('answers 404 for another tenant\'s run, its events and its wait', async () => {
    const other = await createTenant(t, admin, 'Other');
    const created = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: 1 } });
    for (const path of [`/v1/runs/${created.body.id}`, `/v1/runs/${created.body.id}/events`, `/v1/runs/${created.body.id}/wait?timeout=1`]) {
      expect((await t.as(other.key).call('GET', path, { headers: { accept: 'application/json' } })).status).toBe(404);
    }
    expect((await t.as(other.key).call('POST', `/v1/runs/${created.body.id}/cancel`)).status).toBe(404);
  });

  it('replays a POST with the same Idempotency-Key, refuses the key with another body, scoped per tenant', async () => {
    const body = { agent: 'echo', input: { n: 1 } };
    const headers = { 'idempotency-key': 'create-run-1' };
    const first = await t.as(admin.key).call('POST', '/v1/runs', { body, headers });
    const second = await t.as(admin.key).call('POST', '/v1/runs', { body: { input: { n: 1 }, agent: 'echo' }, headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers['idempotent-replayed']).toBe('true');
    const other = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { n: 2 } }, headers });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('idempotency_key_reused');
    const tenant = await createTenant(t, admin, 'Idem');
    const elsewhere = await t.as(tenant.key).call('POST', '/v1/runs', { body, headers });
    expect(elsewhere.status).toBe(201);
    expect(elsewhere.body.id).not.toBe(first.body.id);
  });
});
