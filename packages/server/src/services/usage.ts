// Usage and plans: metering each finished run (exactly once, with its final state), rollups for reads that never
// scan raw records, and admission against the plan's hard limits before a run is queued.
import { randomInt } from 'node:crypto';
import type { Config, PlanLimits, PlanName } from '../config.js';
import { prepared, type Database, type Queryable } from '../db/database.js';
import { ProblemError, badRequest } from '../http/problem.js';
import type { RunRow } from '../runs/service.js';
import type { Principal } from './principal.js';

export const QUOTA_NAMES = ['runs_per_period', 'concurrent_runs', 'tokens_per_period', 'requests_per_minute'] as const;
type QuotaName = (typeof QUOTA_NAMES)[number];

/** Plans count by calendar month in UTC. */
export function periodOf(now = new Date()): { start: Date; end: Date } {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { start, end };
}

function truncate(d: Date, granularity: 'hour' | 'day'): Date {
  const t = new Date(d);
  t.setUTCMinutes(0, 0, 0);
  if (granularity === 'day') t.setUTCHours(0);
  return t;
}

const MAX_BUCKETS = { hour: 744, day: 366 } as const;

/**
 * Shards of each rollup row (migration 0011): a process writes them in turn, so its concurrent finishing runs lock
 * different rows; reads sum them. Bounded by the column's check (< 64).
 */
export const ROLLUP_SHARDS = 8;
/** Shards of a tenant's period counter (migration 0011), written in turn like the rollups'. */
const COUNTER_SHARDS = 8;
/** gcorp_refuse_run's quota name for "decide again under the exclusive lock" (admit). */
const EXCLUSIVE = 'exclusive';

/** Thrown by a shared admission close to a limit: run the create again with the exclusive admission lock. */
export class AdmissionRetry extends Error {
  constructor() {
    super('admission must be decided under the exclusive lock');
  }
}

/**
 * Tenants found close to a limit lately (10 s), whose next creates (or claims) take the exclusive lock at once rather
 * than trying the shared one first. Bounded: expired marks are dropped once it holds many.
 */
export class RecentlyNearLimit {
  private static readonly MARK_MS = 10_000;
  /** Past this many marks, expired ones are dropped on the next mark. */
  private static readonly PRUNE_AT = 10_000;
  private readonly until = new Map<string, number>();

  has(tenantId: string): boolean {
    const until = this.until.get(tenantId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.until.delete(tenantId);
    return false;
  }

  mark(tenantId: string): void {
    const now = Date.now();
    if (this.until.size >= RecentlyNearLimit.PRUNE_AT) for (const [t, u] of this.until) if (u <= now) this.until.delete(t);
    this.until.set(tenantId, now + RecentlyNearLimit.MARK_MS);
  }
}

interface TotalsRow {
  runs: string | number;
  input_tokens: string | number;
  output_tokens: string | number;
  run_seconds: number;
}

export interface RunSlotGuard {
  lockKey(tenantId: string): string;
  param: string;
  /** SQL for the slot state, 'free', 'full' or (shared lock only) 'near'; see runSlotGuard. */
  state(paramIndex: number, shared: boolean): string;
}

export class UsageService {
  constructor(
    private readonly db: Database,
    private readonly config: Config,
  ) {}

  /** The plan's limits with the instance admin's per-tenant overrides applied. */
  limitsFor(plan: string, overrides: Record<string, number | null> | null | undefined): PlanLimits {
    const base = this.config.plans[(plan as PlanName) in this.config.plans ? (plan as PlanName) : 'free'];
    const out = { ...base };
    for (const name of QUOTA_NAMES) {
      const v = overrides?.[name];
      if (v !== undefined && v !== null) out[name] = v;
    }
    return out;
  }

  private async tenantLimits(q: Queryable): Promise<PlanLimits & { plan: string }> {
    const res = await q.query<{ plan: string; limits: Record<string, number | null> }>('select plan, limits from tenants');
    const row = res.rows[0]!;
    return { ...this.limitsFor(row.plan, row.limits), plan: row.plan };
  }

  /**
   * Admission, inside the run's create transaction, issued synchronously (before its first await) right behind the
   * run's insert, so the caller may send COMMIT in the same round trip. The checks decide in SQL: a refusal raises
   * (gcorp_refuse_run), which rolls the transaction back, the count with it, and comes out as a 402 quota_exceeded
   * problem.
   *
   * The create transaction holds the tenant's admission lock (admissionLockKey) from its start. Taken exclusively,
   * the tenant's creates are decided one after another, each seeing every earlier one: the Nth run passes while the
   * N+1th is refused, exactly. Taken shared (`shared`), they do not wait for each other, and each sees only the creates
   * committed before it; those in flight are at most one per connection, so a count more than max_connections away
   * from a limit cannot reach it even if they all commit. Closer to a limit that concurrent creates can cross (runs
   * per period; runs at once, for plans that refuse when busy) the shared admission rejects with AdmissionRetry, and
   * the create is decided again under the exclusive lock, which waits for every shared holder to commit. The period
   * counter is spread over shards so that shared creates do not queue on one row either.
   */
  admit(q: Queryable, principal: Principal, shared = false): Promise<void> {
    if (!this.config.limitsEnabled) return Promise.resolve();
    const { start, end } = periodOf();
    this.counterShard = (this.counterShard + 1) % COUNTER_SHARDS;
    const counted = q.query(
      prepared(`insert into quota_counters (tenant_id, period_start, shard, runs_admitted) values ($1, $2, $3, 1)
       on conflict (tenant_id, period_start, shard) do update set runs_admitted = quota_counters.runs_admitted + 1`),
      [principal.tenantId, start, this.counterShard],
    );
    const limit = (name: QuotaName) =>
      `((case when jsonb_typeof(t.limits -> '${name}') = 'number' then t.limits -> '${name}' else t.base -> '${name}' end) #>> '{}')::bigint`;
    const checked = q.query(
      prepared(`with t as (select plan, limits, coalesce($2::jsonb -> plan, $2::jsonb -> 'free') as base from tenants),
            l as (select plan, ${limit('runs_per_period')} as runs, ${limit('tokens_per_period')} as tokens,
                         ${limit('concurrent_runs')} as concurrent, coalesce((base ->> 'queue_when_busy')::boolean, false) as queue_when_busy
                    from t),
            f as (select l.*,
                         (select sum(runs_admitted) - 1 from quota_counters where period_start = $1) as admitted,
                         case when l.tokens is not null then
                           (select coalesce(sum(input_tokens), 0) + coalesce(sum(output_tokens), 0) from usage_rollups
                             where granularity = 'day' and dim = 'all' and bucket >= $1) end as used_tokens,
                         -- The count includes the run being admitted (its row is already in this transaction).
                         case when l.concurrent is not null and not l.queue_when_busy then
                           (select count(*) - 1 from runs where status in ('queued', 'running')) end as others
                    from l)
       select case
                when runs is not null and admitted >= runs then
                  gcorp_refuse_run('runs_per_period', jsonb_build_object('limit', runs, 'plan', plan))
                when tokens is not null and used_tokens >= tokens then
                  gcorp_refuse_run('tokens_per_period', jsonb_build_object('limit', tokens, 'used', used_tokens))
                when others is not null and others >= concurrent then
                  gcorp_refuse_run('concurrent_runs', jsonb_build_object('others', others))
                -- Shared lock: a limit that the creates in flight elsewhere could reach is decided under the exclusive one.
                when $3 and ((runs is not null and admitted + current_setting('max_connections')::bigint >= runs)
                             or (others is not null and others + current_setting('max_connections')::bigint >= concurrent)) then
                  gcorp_refuse_run('${EXCLUSIVE}', '{}')
                else true end as admitted
         from f`),
      [start, this.plansParam, shared],
    );
    return Promise.all([counted, checked]).then(
      () => undefined,
      (err: { code?: string; message?: string; detail?: string }) => {
        if (err?.code !== 'GQ402') throw err;
        if (err.message === EXCLUSIVE) {
          this.nearLimit.mark(principal.tenantId);
          throw new AdmissionRetry();
        }
        const f = JSON.parse(err.detail ?? '{}') as Record<string, number | string>;
        switch (err.message) {
          case 'runs_per_period':
            throw quotaExceeded('runs_per_period', `This tenant has used all ${f.limit} runs of its ${f.plan} plan for this period; the quota resets on ${end.toISOString()}.`);
          case 'tokens_per_period':
            throw quotaExceeded('tokens_per_period', `This tenant has used ${f.used} of the ${f.limit} tokens of its plan for this period.`);
          default:
            throw quotaExceeded('concurrent_runs', `This tenant already has ${f.others} runs queued or running, the most its plan allows at once; wait for one to finish.`);
        }
      },
    );
  }

  /** The advisory lock of the tenant's run creates (see admit); none when limits are off. */
  admissionLockKey(tenantId: string): string | undefined {
    return this.config.limitsEnabled ? `gcorp-admission:${tenantId}` : undefined;
  }

  /** Whether the tenant's next create may try the shared admission lock: no create of it was near a limit lately. */
  admissionShareable(tenantId: string): boolean {
    return !this.nearLimit.has(tenantId);
  }

  private readonly nearLimit = new RecentlyNearLimit();
  private counterShard = randomInt(COUNTER_SHARDS);

  /** The plans' limits as a JSON parameter: SQL applies a tenant's overrides to them as limitsFor does. */
  private get plansParam(): string {
    return (this.plansJson ??= JSON.stringify(this.config.plans));
  }
  private plansJson: string | undefined;

  /**
   * For plans that queue instead of refusing: the guard a worker's claim of a run carries, so that two workers cannot
   * both take the last slot. The claim transaction takes the advisory lock `lockKey(tenantId)` before its statement,
   * in which `state(n, shared)` (with `param` as parameter $n) is the tenant's slot state: 'free' while it runs fewer
   * runs than its plan (with the instance admin's overrides) allows at once, 'full' when it runs that many.
   *
   * Taken exclusively, the lock makes the tenant's claims count one after another: exact. Taken shared, concurrent
   * claims do not wait for each other, and a claim counts only the claims committed before it; the others in flight
   * are at most one per connection, so a count more than max_connections below the limit cannot reach it even if they
   * all commit. Closer to the limit, the shared state is 'near': the claim is decided again under the exclusive lock,
   * which waits for every shared holder to commit. Null when limits are off.
   */
  runSlotGuard(): RunSlotGuard | null {
    if (!this.config.limitsEnabled) return null;
    const perPlan = Object.fromEntries(Object.entries(this.config.plans).map(([plan, limits]) => [plan, limits.concurrent_runs]));
    return {
      lockKey: (tenantId) => `gcorp-slots:${tenantId}`,
      param: JSON.stringify(perPlan),
      // An override that is a number wins; else the plan's value (null: unlimited), unknown plans counting as free.
      state: (n, shared) => `coalesce((
          select case when l.lim is null then 'free'
                      else (select case when c.n >= l.lim then 'full'
                                        when ${shared ? "c.n + current_setting('max_connections')::bigint < l.lim" : 'true'} then 'free'
                                        else 'near' end
                              from (select count(*) as n from runs where status = 'running') c) end
            from (select ((case when jsonb_typeof(t.limits -> 'concurrent_runs') = 'number' then t.limits -> 'concurrent_runs'
                                else coalesce($${n}::jsonb -> t.plan, $${n}::jsonb -> 'free') end) #>> '{}')::bigint as lim
                    from tenants t) l), 'free')`,
    };
  }

  /**
   * Meters a finished run in its final-state transaction; the run id is the natural key, so it counts once. One
   * statement, which records only a run that has reached this final state: it may be issued right behind the
   * statement that finishes the run, without waiting for its answer.
   */
  async record(q: Queryable, run: RunRow): Promise<void> {
    this.rollupShard = (this.rollupShard + 1) % ROLLUP_SHARDS;
    // The rollup rows in a fixed order, so concurrent runs lock them alike; '' as api_key = started by a user session.
    await q.query(
      prepared(`with rec as (
         insert into usage_records (run_id, tenant_id, agent_name, api_key_id, user_id, status, input_tokens, output_tokens, run_seconds)
         select $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::bigint, $8::bigint, $9::float8
          where exists (select 1 from runs where id = $1 and status = $6 and finished_at is not null)
         on conflict (run_id) do nothing returning recorded_at)
       insert into usage_rollups (tenant_id, granularity, dim, dim_key, bucket, shard, runs, input_tokens, output_tokens, run_seconds)
       select $2, g.granularity, g.dim, g.dim_key, date_trunc(g.granularity, rec.recorded_at, 'UTC'), $10::smallint, 1, $7, $8, $9
         from rec, (values (1, 'hour', 'all', ''), (2, 'hour', 'agent', $3), (3, 'hour', 'api_key', coalesce($4, '')),
                           (4, 'day', 'all', ''), (5, 'day', 'agent', $3), (6, 'day', 'api_key', coalesce($4, '')))
                   as g(n, granularity, dim, dim_key)
        order by g.n
       on conflict (tenant_id, granularity, dim, dim_key, bucket, shard) do update set
         runs = usage_rollups.runs + 1,
         input_tokens = usage_rollups.input_tokens + excluded.input_tokens,
         output_tokens = usage_rollups.output_tokens + excluded.output_tokens,
         run_seconds = usage_rollups.run_seconds + excluded.run_seconds`),
      [
        run.id,
        run.tenant_id,
        run.agent_name,
        run.created_by_key_id,
        run.created_by_user_id,
        run.status,
        Number(run.input_tokens),
        Number(run.output_tokens),
        run.run_seconds,
        this.rollupShard,
      ],
    );
  }
  private rollupShard = randomInt(ROLLUP_SHARDS);

  private async periodTotals(q: Queryable, start: Date): Promise<TotalsRow> {
    const res = await q.query<TotalsRow>(
      `select coalesce(sum(runs), 0) as runs, coalesce(sum(input_tokens), 0) as input_tokens,
              coalesce(sum(output_tokens), 0) as output_tokens, coalesce(sum(run_seconds), 0)::float8 as run_seconds
         from usage_rollups where granularity = 'day' and dim = 'all' and bucket >= $1`,
      [start],
    );
    return res.rows[0]!;
  }

  async summary(principal: Principal) {
    const { start, end } = periodOf();
    return this.db.tenant(principal.tenantId, async (q) => {
      const limits = await this.tenantLimits(q);
      const totals = await this.periodTotals(q, start);
      const counter = await q.query<{ runs_admitted: string }>('select sum(runs_admitted) as runs_admitted from quota_counters where period_start = $1', [start]);
      const active = await q.query<{ queued: number; running: number }>(
        `select count(*) filter (where status = 'queued')::int as queued, count(*) filter (where status = 'running')::int as running
           from runs where status in ('queued', 'running')`,
      );
      const admitted = Number(counter.rows[0]?.runs_admitted ?? 0);
      const concurrent = limits.queue_when_busy ? active.rows[0]!.running : active.rows[0]!.queued + active.rows[0]!.running;
      const tokens = Number(totals.input_tokens) + Number(totals.output_tokens);
      const quota = (name: QuotaName, used: number) => {
        const limit = limits[name];
        return { name, limit, used, remaining: limit === null ? null : Math.max(0, limit - used) };
      };
      return {
        plan: limits.plan,
        period_start: start.toISOString(),
        period_end: end.toISOString(),
        resets_at: end.toISOString(),
        usage: {
          runs: Number(totals.runs),
          input_tokens: Number(totals.input_tokens),
          output_tokens: Number(totals.output_tokens),
          run_seconds: Math.round(Number(totals.run_seconds) * 1000) / 1000,
          concurrent_runs: concurrent,
        },
        quotas: [
          quota('runs_per_period', admitted),
          quota('concurrent_runs', concurrent),
          quota('tokens_per_period', tokens),
          // Requests are counted by the rate limiter, per minute; the summary shows the limit.
          quota('requests_per_minute', 0),
        ],
      };
    });
  }

  /** Buckets of usage between from and to, every bucket present (zeros included), optionally per agent or API key. */
  async series(principal: Principal, query: { from?: string; to?: string; granularity: 'hour' | 'day'; group_by?: 'agent' | 'api_key' }) {
    const g = query.granularity;
    const to = query.to ? new Date(query.to) : new Date();
    const from = query.from ? new Date(query.from) : periodOf(to).start;
    if (from.getTime() > to.getTime()) {
      throw badRequest('from must not be after to.', [{ field: '/query/from', message: 'must not be after to' }], 'invalid_range');
    }
    const first = truncate(from, g);
    const step = g === 'hour' ? 3_600_000 : 86_400_000;
    const count = Math.max(1, Math.ceil((to.getTime() - first.getTime()) / step));
    if (count > MAX_BUCKETS[g]) {
      throw badRequest(
        `The range spans ${count} ${g} buckets; at most ${MAX_BUCKETS[g]} are served at once (${g === 'hour' ? '31 days' : 'a year'}). Narrow from/to or use granularity=day.`,
        [{ field: '/query/from', message: `range longer than ${MAX_BUCKETS[g]} ${g} buckets` }],
        'range_too_large',
      );
    }
    const dim = query.group_by ?? 'all';
    const rows = await this.db.tenant(principal.tenantId, (q) =>
      q.query<TotalsRow & { bucket: Date; dim_key: string }>(
        `select bucket, dim_key, sum(runs) as runs, sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
                sum(run_seconds) as run_seconds
           from usage_rollups
          where granularity = $1 and dim = $2 and bucket >= $3 and bucket < $4
          group by bucket, dim_key order by bucket, dim_key`,
        [g, dim, first, new Date(first.getTime() + count * step)],
      ),
    );
    const groups: (string | null)[] = dim === 'all' ? [null] : [...new Set(rows.rows.map((r) => r.dim_key))].sort();
    const byKey = new Map(rows.rows.map((r) => [`${r.bucket.getTime()} ${dim === 'all' ? '' : r.dim_key}`, r]));
    const data = [];
    for (let i = 0; i < count; i++) {
      const start = new Date(first.getTime() + i * step);
      const end = new Date(start.getTime() + step);
      for (const group of groups) {
        const r = byKey.get(`${start.getTime()} ${group ?? ''}`);
        data.push({
          start: start.toISOString(),
          end: end.toISOString(),
          group: group === '' ? null : group,
          runs: Number(r?.runs ?? 0),
          input_tokens: Number(r?.input_tokens ?? 0),
          output_tokens: Number(r?.output_tokens ?? 0),
          run_seconds: Math.round(Number(r?.run_seconds ?? 0) * 1000) / 1000,
        });
      }
    }
    return { from: first.toISOString(), to: to.toISOString(), granularity: g, group_by: query.group_by ?? null, data };
  }
}

function quotaExceeded(quota: QuotaName, detail: string): ProblemError {
  return new ProblemError(402, 'quota_exceeded', `${detail} (quota ${quota})`, { title: 'Quota exceeded' });
}
