// On BullMQ's PostgreSQL backend a run's job is added by the run's own create transaction (BullMQ's add_job, as
// Queue.add calls it): no run is ever without its job nor a job without its run, and no outbox row is needed. A run
// that admission refuses leaves neither. On Redis the outbox does this (runs-recovery, scale-out).
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningHub, StartOptions } from '../src/hub.js';
import { ownerQuery } from './helpers/db.js';
import { bootstrap, createTenant, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

let t: TestHub;
let admin: Tenant;

/** Starts with REDIS_URL removed, so the hub uses the PostgreSQL backend whatever the environment says. */
async function withoutRedis<T>(start: () => Promise<T>): Promise<T> {
  const redis = process.env.REDIS_URL;
  delete process.env.REDIS_URL;
  try {
    return await start();
  } finally {
    if (redis !== undefined) process.env.REDIS_URL = redis;
  }
}

beforeAll(async () => {
  // No workers: the jobs stay in the queue where the test can see them.
  t = await withoutRedis(() => startTestHub({ workerConcurrency: 0 }));
  admin = await bootstrap(t);
});
afterAll(async () => t?.close());

async function owner<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
  return (await ownerQuery<T>(t.ownerUrl, sql, values)).rows;
}

it('commits the job with the run, leaves no outbox row, and a refused run leaves no job; a worker runs the job', async () => {
  expect(t.hub.config.redisUrl).toBeUndefined();
  const tenant = await createTenant(t, admin, 'Atomic', 'pro');
  await t.as(admin.key).call('PATCH', `/v1/admin/tenants/${tenant.tenantId}`, { body: { limits: { runs_per_period: 1 } } });
  const created = await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { hello: 1 } } });
  expect(created.status).toBe(201);
  const runId = created.body.id as string;
  const jobs = () =>
    owner<{ id: string; name: string; state: string; data: unknown; opts: Record<string, unknown> }>(
      "select id, name, state, data, opts from bullmq.job where data->>'tenantId' = $1",
      [tenant.tenantId],
    );
  expect(await jobs()).toEqual([
    {
      id: `${runId}.1`,
      name: 'run',
      state: 'waiting',
      data: { runId, tenantId: tenant.tenantId, attempt: 1 },
      opts: { attempts: 1, jobId: `${runId}.1`, removeOnComplete: true, removeOnFail: true },
    },
  ]);
  expect(await owner('select run_id from run_outbox where tenant_id = $1', [tenant.tenantId])).toEqual([]);

  const refused = await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: 2 } });
  expect(refused.status).toBe(402);
  expect(await jobs()).toHaveLength(1);
  expect(await owner('select id from runs where tenant_id = $1', [tenant.tenantId])).toEqual([{ id: runId }]);

  // A process with workers takes the job BullMQ's Worker has never seen added through Queue.add, and runs it.
  const worker: RunningHub = await withoutRedis(() => t.sibling({ workerConcurrency: 2 } satisfies StartOptions));
  expect(worker.config.redisUrl).toBeUndefined();
  const done = await t.as(tenant.key).call('GET', `/v1/runs/${runId}/wait?timeout=20`);
  expect(done.body).toMatchObject({ id: runId, status: 'succeeded', output: { hello: 1 } });
  // BullMQ completes (and removes) the job once the run's final state has committed, a moment after it is visible.
  let left = await jobs();
  for (let i = 0; i < 100 && left.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    left = await jobs();
  }
  expect(left).toEqual([]);
});
