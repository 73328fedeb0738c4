// Recovery: `kill -9` of a separate worker process (`gcorp-server worker`) in the middle of 50 runs. The API process
// here executes nothing (workerConcurrency 0); a second worker process takes over. Every run must end terminal, none
// may be executed twice, and the runs that were running on the killed worker run again as attempt 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractFetch } from '@genericcorp/contract';
import { bootstrap, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';
import {
  clientFor,
  mapLimit,
  replayEvents,
  sleep,
  startWorkerProcess,
  waitForRun,
  type HubProcess,
  type RunBody,
  type RunEvent,
} from './helpers/processes.js';

let t: TestHub;
let admin: Tenant;
let api: ContractFetch;
const workers: HubProcess[] = [];

beforeAll(async () => {
  // The sweeper of this (API-only) process recovers the runs whose worker died: sweep often.
  t = await startTestHub({ workerConcurrency: 0, sweepIntervalMs: 200 });
  admin = await bootstrap(t);
  api = clientFor(t.url, admin.key);
});

afterAll(async () => {
  for (const w of workers) await w.stop().catch(() => undefined);
  await t?.close();
});

async function runsWithStatus(status: string): Promise<RunBody[]> {
  const out: RunBody[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: { data: RunBody[]; next_cursor: string | null } } = await api.call('GET', `/v1/runs?status=${status}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status).toBe(200);
    out.push(...res.body.data);
    cursor = res.body.next_cursor;
  } while (cursor);
  return out;
}

describe('runs: a worker process killed with SIGKILL mid-run', () => {
  it('ends every run terminal, executes none twice, and retries the interrupted ones as attempt 2', { timeout: 200_000 }, async () => {
    const RUNS = 50;
    const inputs = Array.from({ length: RUNS }, (_, i) => ({ n: i, delay_ms: 300 + ((i * 137) % 500) }));
    const ids = await mapLimit(inputs, 8, async (input) => {
      const res = await api.call<RunBody>('POST', '/v1/runs', { body: { agent: 'echo', input, metadata: { n: String(input.n) } } });
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('queued');
      return res.body.id;
    });
    const inputOf = new Map(ids.map((id, i) => [id, inputs[i]!]));

    const first = await startWorkerProcess({ ownerUrl: t.ownerUrl, appUrl: t.appUrl, concurrency: 8 });
    workers.push(first);

    // Kill it once it is well into the batch: some runs done, several running, the rest still queued.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [running, succeeded] = await Promise.all([runsWithStatus('running'), runsWithStatus('succeeded')]);
      if (running.length >= 4 && succeeded.length >= 8) break;
      if (Date.now() > deadline) {
        throw new Error(`the first worker did not get going (running ${running.length}, succeeded ${succeeded.length}); output:\n${first.output()}`);
      }
      await sleep(30);
    }
    await first.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    // Nothing else executes runs yet: what is `running` now was running on the killed worker.
    const interrupted = new Set((await runsWithStatus('running')).map((r) => r.id));
    const queuedAtKill = (await runsWithStatus('queued')).length;
    expect(interrupted.size).toBeGreaterThan(0);
    expect(queuedAtKill).toBeGreaterThan(0);

    const second = await startWorkerProcess({ ownerUrl: t.ownerUrl, appUrl: t.appUrl, concurrency: 8 });
    workers.push(second);

    // The killed worker's lease must lapse before its runs are recovered (the worker processes run with a 5 s lease: see processes.ts). A run
    // whose queue job the killed worker had taken but not yet claimed waits for BullMQ's stalled-job check (lock 30 s
    // + check interval 30 s), hence the generous budget.
    const finals = await mapLimit(ids, 10, (id) => waitForRun(api, id, 120_000));

    for (const run of finals) {
      const input = inputOf.get(run.id)!;
      expect(run.status, `run ${run.id} (${JSON.stringify(run.error)})`).toBe('succeeded');
      expect(run.output).toEqual(input);
      expect(run.attempt).toBe(interrupted.has(run.id) ? 2 : 1);

      const events = await replayEvents(api, run.id);
      const seqs = events.map((e) => e.seq);
      expect(seqs).toEqual(events.map((_, i) => i + 1));
      const of = (type: string) => events.filter((e) => e.type === type);
      const startsPerAttempt = new Map<number, number>();
      for (const e of of('run.started')) {
        const attempt = e.data.attempt as number;
        startsPerAttempt.set(attempt, (startsPerAttempt.get(attempt) ?? 0) + 1);
      }
      // One run.started per attempt, for exactly the attempts the run went through.
      const attempts = Array.from({ length: run.attempt }, (_, i) => i + 1);
      expect([...startsPerAttempt.keys()].sort()).toEqual(attempts);
      for (const count of startsPerAttempt.values()) expect(count).toBe(1);
      expect(of('run.queued').map((e) => e.data.attempt)).toEqual(attempts);
      // Finished exactly once, and last.
      const completed = of('run.completed');
      expect(completed).toHaveLength(1);
      expect(events.at(-1)!.type).toBe('run.completed');
      expect(completed[0]!.data).toMatchObject({ status: 'succeeded', output: input, error: null });
      // The final attempt's delta carries the input; an interrupted attempt may have emitted its delta before dying.
      const lastStart = events.findIndex((e: RunEvent) => e.type === 'run.started' && e.data.attempt === run.attempt);
      const finalDeltas = events.slice(lastStart).filter((e) => e.type === 'run.output.delta');
      expect(finalDeltas.map((e) => e.data.delta)).toEqual([input]);
    }

    // Nothing is left running or queued anywhere.
    expect(await runsWithStatus('running')).toEqual([]);
    expect(await runsWithStatus('queued')).toEqual([]);
    expect(second.child.exitCode).toBeNull();
  });
});
