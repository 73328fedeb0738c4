import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PLANS } from '../src/config.js';
import { prepared } from '../src/db/database.js';
import { UsageService } from '../src/services/usage.js';
import { bootstrap, createTenant, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

let t: TestHub;
let admin: Tenant;

beforeAll(async () => {
  t = await startTestHub({ workerConcurrency: 16 });
  admin = await bootstrap(t);
});
afterAll(async () => t?.close());

async function settle(key: string, ids: string[]) {
  for (const id of ids) {
    for (let i = 0; i < 30; i++) {
      const res = await t.as(key).call('GET', `/v1/runs/${id}/wait?timeout=10`);
      if (res.status === 200) break;
    }
  }
}

async function owner<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: t.ownerUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describe('usage metering', () => {
  it('100 concurrent runs give exact usage totals, once each', async () => {
    const tenant = await createTenant(t, admin, 'Metered', 'business');
    const created = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { i, usage: { input_tokens: 3, output_tokens: 7 } } } }),
      ),
    );
    expect(created.every((r) => r.status === 201)).toBe(true);
    await settle(tenant.key, created.map((r) => r.body.id));
    const summary = await t.as(tenant.key).call('GET', '/v1/usage/summary');
    expect(summary.body.usage).toMatchObject({ runs: 100, input_tokens: 300, output_tokens: 700 });
    const runsQuota = summary.body.quotas.find((q: { name: string }) => q.name === 'runs_per_period');
    expect(runsQuota.used).toBe(100);
    const series = await t.as(tenant.key).call('GET', '/v1/usage?granularity=hour&group_by=agent');
    const total = series.body.data.reduce((a: number, b: { runs: number }) => a + b.runs, 0);
    expect(total).toBe(100);
    const records = await owner<{ n: number }>('select count(*)::int as n from usage_records where tenant_id = $1', [tenant.tenantId]);
    expect(records[0]!.n).toBe(100);
  }, 120_000);

  it('rollups equal a direct sum of the raw records over random ranges', async () => {
    const tenant = await createTenant(t, admin, 'Ranges', 'business');
    const ids = [];
    for (let i = 0; i < 12; i++) {
      const r = await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { usage: { input_tokens: i, output_tokens: 2 * i } } } });
      ids.push(r.body.id);
    }
    await settle(tenant.key, ids);
    const now = Date.now();
    for (let k = 0; k < 10; k++) {
      const from = new Date(now - Math.floor(Math.random() * 72) * 3_600_000);
      const to = new Date(now + Math.floor(Math.random() * 48) * 3_600_000);
      for (const granularity of ['hour', 'day'] as const) {
        const res = await t.as(tenant.key).call('GET', `/v1/usage?granularity=${granularity}&from=${from.toISOString()}&to=${to.toISOString()}`);
        expect(res.status).toBe(200);
        const sum = (f: 'runs' | 'input_tokens' | 'output_tokens') => res.body.data.reduce((a: number, b: Record<string, number>) => a + b[f]!, 0);
        // The range covers whole buckets: from rounded down, to rounded up.
        const direct = await owner<{ runs: number; input_tokens: number; output_tokens: number }>(
          `select count(*)::int as runs, coalesce(sum(input_tokens), 0)::int as input_tokens, coalesce(sum(output_tokens), 0)::int as output_tokens
             from usage_records where tenant_id = $1 and recorded_at >= $2 and recorded_at < $3`,
          [tenant.tenantId, res.body.data[0].start, res.body.data.at(-1).end],
        );
        expect(new Date(res.body.data[0].start).getTime()).toBeLessThanOrEqual(from.getTime());
        expect(new Date(res.body.data.at(-1).end).getTime()).toBeGreaterThanOrEqual(to.getTime());
        expect({ runs: sum('runs'), input_tokens: sum('input_tokens'), output_tokens: sum('output_tokens') }).toEqual(direct[0]);
      }
    }
  });

  it('folds the shards of closed buckets into one row each, leaving every total as it was', async () => {
    const tenant = await createTenant(t, admin, 'Compaction', 'business');
    const hour = 3_600_000;
    const day = 24 * hour;
    const now = Date.now();
    const closedHour = new Date(Math.floor(now / hour) * hour - 3 * hour);
    const openHour = new Date(Math.floor(now / hour) * hour);
    const closedDay = new Date(Math.floor(now / day) * day - 3 * day);
    const openDay = new Date(Math.floor(now / day) * day);
    // Rows as finishing runs leave them, spread over shards; the closed hour also has a shard 0 row already.
    const rows: [string, Date, number, number][] = [['hour', closedHour, 0, 7]];
    for (const [granularity, bucket] of [['hour', closedHour], ['hour', openHour], ['day', closedDay], ['day', openDay]] as const) {
      for (const shard of [1, 3, 5]) rows.push([granularity, bucket, shard, shard]);
    }
    for (const [granularity, bucket, shard, runs] of rows) {
      await owner(
        `insert into usage_rollups (tenant_id, granularity, dim, dim_key, bucket, shard, runs, input_tokens, output_tokens, run_seconds)
         values ($1, $2, 'all', '', $3, $4, $5::bigint, $5::bigint * 10, $5::bigint * 100, $5::bigint * 0.5)`,
        [tenant.tenantId, granularity, bucket, shard, runs],
      );
    }
    const series = async () => [
      (await t.as(tenant.key).call('GET', `/v1/usage?granularity=hour&from=${closedHour.toISOString()}`)).body.data,
      (await t.as(tenant.key).call('GET', `/v1/usage?granularity=day&from=${closedDay.toISOString()}`)).body.data,
    ];
    const before = await series();
    expect(before[0].find((b: { start: string }) => b.start === closedHour.toISOString())).toMatchObject({ runs: 16, input_tokens: 160 });

    await t.hub.db.query('select gcorp_compact_rollups(1000)');
    const shards = await owner<{ granularity: string; bucket: Date; shard: number; runs: string; output_tokens: string; run_seconds: number }>(
      `select granularity, bucket, shard, runs, output_tokens, run_seconds from usage_rollups where tenant_id = $1 order by granularity, bucket, shard`,
      [tenant.tenantId],
    );
    const of = (granularity: string, bucket: Date) =>
      shards.filter((r) => r.granularity === granularity && r.bucket.getTime() === bucket.getTime()).map((r) => [r.shard, Number(r.runs)]);
    expect(of('hour', closedHour)).toEqual([[0, 16]]);
    expect(of('day', closedDay)).toEqual([[0, 9]]);
    // The open buckets are still being written: left as they are.
    expect(of('hour', openHour)).toEqual([[1, 1], [3, 3], [5, 5]]);
    expect(of('day', openDay)).toEqual([[1, 1], [3, 3], [5, 5]]);
    expect(shards.find((r) => r.granularity === 'hour' && r.shard === 0)).toMatchObject({ output_tokens: '1600', run_seconds: 8 });
    expect(await series()).toEqual(before);
  });

  it('lists every bucket in the range, empty ones as zeros', async () => {
    const tenant = await createTenant(t, admin, 'Zeros', 'pro');
    const from = new Date(Date.now() - 29 * 86_400_000).toISOString();
    const res = await t.as(tenant.key).call('GET', `/v1/usage?granularity=day&from=${from}`);
    expect(res.body.data).toHaveLength(30); // 29 whole days back, rounded down, up to now rounded up
    expect(res.body.data.every((b: { runs: number }) => b.runs === 0)).toBe(true);
  });

  it('refuses bad ranges and parameters with 400 problems', async () => {
    const k = t.as(admin.key);
    expect((await k.call('GET', '/v1/usage?from=2026-05-02T00:00:00Z&to=2026-05-01T00:00:00Z')).body.code).toBe('invalid_range');
    expect((await k.call('GET', '/v1/usage?granularity=day&from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z')).status).toBe(400);
    expect((await k.call('GET', '/v1/usage?granularity=hour&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z')).status).toBe(400);
    expect((await k.call('GET', '/v1/usage?granularity=week')).status).toBe(400);
    expect((await k.call('GET', '/v1/usage?group_by=colour')).status).toBe(400);
    expect((await k.call('GET', '/v1/usage?from=yesterday')).status).toBe(400);
  });
});

describe('plan quotas', () => {
  it('the Nth run of a quota passes and the N+1th gets 402, also under concurrency', async () => {
    const tenant = await createTenant(t, admin, 'Quota', 'pro');
    await t.as(admin.key).call('PATCH', `/v1/admin/tenants/${tenant.tenantId}`, { body: { limits: { runs_per_period: 5 } } });
    const results = await Promise.all(
      Array.from({ length: 12 }, () => t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: 1 } })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(5);
    const refused = results.filter((r) => r.status === 402);
    expect(refused).toHaveLength(7);
    expect(refused[0]!.body.code).toBe('quota_exceeded');
    const summary = await t.as(tenant.key).call('GET', '/v1/usage/summary');
    expect(summary.body.quotas.find((q: { name: string }) => q.name === 'runs_per_period')).toMatchObject({ limit: 5, used: 5, remaining: 0 });
  });

  it('decides the last runs of a quota larger than max_connections exactly, under concurrency', async () => {
    // Far from the limit, creates take the tenant's admission lock shared and see only the creates committed before
    // them; within max_connections of it they are decided again under the exclusive lock. 20 lanes cross that line.
    const [{ max }] = await owner<{ max: number }>("select current_setting('max_connections')::int as max");
    const limit = max + 10;
    const tenant = await createTenant(t, admin, 'Large quota', 'business');
    await t.as(admin.key).call('PATCH', `/v1/admin/tenants/${tenant.tenantId}`, { body: { limits: { runs_per_period: limit } } });
    const statuses: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < limit + 5) {
          next++;
          const r = await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: 1 } });
          statuses.push(r.status);
        }
      }),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(limit);
    expect(statuses.filter((s) => s === 402)).toHaveLength(5);
    const [{ n }] = await owner<{ n: number }>('select count(*)::int as n from runs where tenant_id = $1', [tenant.tenantId]);
    expect(n).toBe(limit);
    const summary = await t.as(tenant.key).call('GET', '/v1/usage/summary');
    expect(summary.body.quotas.find((q: { name: string }) => q.name === 'runs_per_period')).toMatchObject({ limit, used: limit, remaining: 0 });
  });

  it("a claim's slot state: free far from the limit, near within max_connections of it under the shared lock, full at it", async () => {
    const [{ max }] = await owner<{ max: number }>("select current_setting('max_connections')::int as max");
    const tenant = await createTenant(t, admin, 'Slots', 'business');
    const limits = (concurrent_runs: number) =>
      t.as(admin.key).call('PATCH', `/v1/admin/tenants/${tenant.tenantId}`, { body: { limits: { concurrent_runs } } });
    const guard = new UsageService(t.hub.db, t.hub.config).runSlotGuard()!;
    const state = async (shared: boolean) => {
      const res = await t.hub.db.tenant(tenant.tenantId, (q) =>
        q.query<{ state: string }>(prepared(`select ${guard.state(1, shared)} as state`), [guard.param]),
      );
      return res.rows[0]!.state;
    };
    await limits(max + 5);
    expect([await state(true), await state(false)]).toEqual(['free', 'free']);
    const running = [];
    for (let i = 0; i < 6; i++) {
      running.push((await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { delay_ms: 60000 } } })).body.id);
    }
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const [{ n }] = await owner<{ n: number }>("select count(*)::int as n from runs where tenant_id = $1 and status = 'running'", [tenant.tenantId]);
      if (n === 6) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // 6 running + max_connections reaches max + 5: the shared lock cannot decide; the exclusive one sees a slot.
    expect([await state(true), await state(false)]).toEqual(['near', 'free']);
    await limits(6);
    expect([await state(true), await state(false)]).toEqual(['full', 'full']);
    for (const id of running) await t.as(tenant.key).call('POST', `/v1/runs/${id}/cancel`);
    await settle(tenant.key, running);
  });

  it('refuses runs over the concurrency limit of a plan that does not queue, and frees the slot when a run ends', async () => {
    const tenant = await createTenant(t, admin, 'Concurrent', 'free');
    expect(DEFAULT_PLANS.free.queue_when_busy).toBe(false);
    const limit = DEFAULT_PLANS.free.concurrent_runs!;
    const long = [];
    for (let i = 0; i < limit; i++) {
      long.push(await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { delay_ms: 60000 } } }));
    }
    const over = await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: 1 } });
    expect(over.status).toBe(402);
    expect(over.body.detail).toContain('concurrent_runs');
    await t.as(tenant.key).call('POST', `/v1/runs/${long[0]!.body.id}/cancel`);
    await settle(tenant.key, [long[0]!.body.id]);
    const after = await t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: 1 } });
    expect(after.status).toBe(201);
    for (const r of long.slice(1)) await t.as(tenant.key).call('POST', `/v1/runs/${r.body.id}/cancel`);
  });

  it('queues runs over the concurrency limit when the plan says so, running at most the limit at once', async () => {
    const tenant = await createTenant(t, admin, 'Queued', 'pro');
    await t.as(admin.key).call('PATCH', `/v1/admin/tenants/${tenant.tenantId}`, { body: { limits: { concurrent_runs: 2 } } });
    const created = await Promise.all(
      Array.from({ length: 5 }, () => t.as(tenant.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { delay_ms: 400 } } })),
    );
    expect(created.every((r) => r.status === 201)).toBe(true);
    let maxRunning = 0;
    const deadline = Date.now() + 50_000;
    while (Date.now() < deadline) {
      const list = await t.as(tenant.key).call('GET', '/v1/runs?limit=10');
      const statuses = list.body.data.map((r: { status: string }) => r.status);
      maxRunning = Math.max(maxRunning, statuses.filter((s: string) => s === 'running').length);
      if (statuses.every((s: string) => s === 'succeeded')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(maxRunning).toBeLessThanOrEqual(2);
    const list = await t.as(tenant.key).call('GET', '/v1/runs?limit=10');
    expect(list.body.data.every((r: { status: string }) => r.status === 'succeeded')).toBe(true);
  }, 60_000);
});
