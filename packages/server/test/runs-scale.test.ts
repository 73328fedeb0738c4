// Scale-out: two API processes (in-process hubs that execute nothing) and two `gcorp-server worker` processes on one
// database (and one Redis in the server-pg project). Every run executes exactly once whichever API took it, and a
// cancellation sent to API 1 reaches the run on whichever worker executes it by NOTIFY (not by a lease renewal).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractFetch } from '@genericcorp/contract';
import type { RunningHub } from '../src/hub.js';
import { ownerQuery } from './helpers/db.js';
import { bootstrap, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';
import {
  clientFor,
  mapLimit,
  pollRun,
  replayEvents,
  sleep,
  startWorkerProcess,
  waitForRun,
  type HubProcess,
  type RunBody,
} from './helpers/processes.js';

const WORKER_CONCURRENCY = 4;

let t: TestHub;
let api2Hub: RunningHub;
let admin: Tenant;
let api1: ContractFetch;
let api2: ContractFetch;
const workers: HubProcess[] = [];

beforeAll(async () => {
  t = await startTestHub({ workerConcurrency: 0 });
  api2Hub = await t.sibling({ workerConcurrency: 0 });
  admin = await bootstrap(t);
  api1 = clientFor(t.url, admin.key);
  api2 = clientFor(api2Hub.url, admin.key);
  // A 300 s lease is renewed every 100 s, after the cancellation test's 90 s timeout: a cancellation that reaches a
  // worker in that test came by NOTIFY.
  const opts = { ownerUrl: t.ownerUrl, appUrl: t.appUrl, concurrency: WORKER_CONCURRENCY, env: { GCORP_RUN_LEASE_MS: '300000' } };
  const started = await Promise.all([startWorkerProcess(opts), startWorkerProcess(opts)]);
  workers.push(...started);
}, 150_000);

afterAll(async () => {
  for (const w of workers) await w.stop().catch(() => undefined);
  await t?.close();
});

/** Which worker process holds a run: the executor's id is `<host>:<pid>:<random>`. */
async function workerPidOf(runId: string): Promise<number | null> {
  const res = await ownerQuery<{ worker_id: string | null }>(t.ownerUrl, 'select worker_id from runs where id = $1', [runId]);
  const id = res.rows[0]?.worker_id;
  return id ? Number(id.split(':').at(-2)) : null;
}

describe('runs: two API processes and two worker processes on one database', () => {
  it('runs 60 runs created round-robin through both APIs, each exactly once', { timeout: 120_000 }, async () => {
    const apis = [api1, api2];
    const inputs = Array.from({ length: 60 }, (_, i) => ({ n: i, delay_ms: 50 + ((i * 31) % 150) }));
    const ids = await mapLimit(inputs, 10, async (input, i) => {
      const res = await apis[i % 2]!.call<RunBody>('POST', '/v1/runs', { body: { agent: 'echo', input } });
      expect(res.status).toBe(201);
      return res.body.id;
    });
    // Either API answers for any run.
    const finals = await mapLimit(ids, 10, (id, i) => waitForRun(apis[(i + 1) % 2]!, id, 60_000));
    for (const [i, run] of finals.entries()) {
      expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
      expect(run.output).toEqual(inputs[i]);
      expect(run.attempt).toBe(1);
      const events = await replayEvents(apis[i % 2]!, run.id);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, k) => k + 1));
      expect(events.filter((e) => e.type === 'run.started')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'run.completed')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'run.output.delta').map((e) => e.data.delta)).toEqual([inputs[i]]);
      expect(events.at(-1)!.type).toBe('run.completed');
    }
    // Both workers took part.
    const res = await ownerQuery<{ worker_id: string }>(t.ownerUrl, 'select distinct worker_id from runs where id = any($1)', [ids]);
    const pids = new Set(res.rows.map((r) => Number(r.worker_id.split(':').at(-2))));
    expect(pids).toEqual(new Set(workers.map((w) => w.pid)));
  });

  it('delivers a cancellation sent to API 1 to a run on either worker by NOTIFY, before any lease renewal', { timeout: 90_000 }, async () => {
    // Twice as many long runs as one worker can hold: each worker is busy with some of them.
    const ids = await mapLimit(Array.from({ length: 2 * WORKER_CONCURRENCY }), 4, async (_, i) => {
      const res = await [api1, api2][i % 2]!.call<RunBody>('POST', '/v1/runs', { body: { agent: 'echo', input: { delay_ms: 120_000, n: i } } });
      expect(res.status).toBe(201);
      return res.body.id;
    });
    for (const id of ids) await pollRun(api1, id, (r) => r.status === 'running', 30_000);
    const holder = new Map<string, number>();
    for (const id of ids) holder.set(id, (await workerPidOf(id))!);
    expect(new Set(holder.values())).toEqual(new Set(workers.map((w) => w.pid)));

    for (const id of ids) {
      const cancel = await api1.call<RunBody>('POST', `/v1/runs/${id}/cancel`);
      expect(cancel.status).toBe(202);
      expect(cancel.body.status).toBe('running');
      const done = await pollRun(api1, id, (r) => r.status !== 'running', 10_000);
      expect(done.status, `run ${id} on worker ${holder.get(id)}`).toBe('cancelled');
      expect(done.error).toBeNull();
      const events = await replayEvents(api1, id);
      expect(events.at(-1)).toMatchObject({ type: 'run.completed', data: { status: 'cancelled', output: null, error: null } });
      expect(events.filter((e) => e.type === 'run.completed')).toHaveLength(1);
    }
    // A cancelled run stays cancelled: nothing later overwrites it.
    await sleep(300);
    for (const id of ids) expect((await api2.call<RunBody>('GET', `/v1/runs/${id}`)).body.status).toBe('cancelled');
  });
});
