// Runs as the API sees them: create (durable before the 201), read, list, cancel, wait, and their events.
import { prepared, type Database, type Queryable } from '../db/database.js';
import { ProblemError, badRequest, notFound } from '../http/problem.js';
import { newId } from '../ids.js';
import { SHIPPED_AGENTS, type AgentDefinition } from '../runtimes/index.js';
import type { AgentService } from '../services/agents.js';
import { AdmissionRetry } from '../services/usage.js';
import type { Principal } from '../services/principal.js';
import { appendEvents, readEvents, type RunFeed, type RunEventView, type RunSignal } from './events.js';
import type { OnRunFinished } from './lifecycle.js';
import type { RunQueue } from './queue.js';

const SHIPPED_BY_REF = new Map(SHIPPED_AGENTS.flatMap((a) => [[a.id, a] as const, [a.name, a] as const]));

/** The shipped agent (echo, the templates) a reference names, by id or name; undefined for a tenant's own. */
export function shippedAgent(ref: string): AgentDefinition | undefined {
  return SHIPPED_BY_REF.get(ref);
}

export const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);
export const CANCEL_CHANNEL = 'gcorp_run_cancel';

export interface RunRow {
  id: string;
  tenant_id: string;
  agent_id: string;
  agent_name: string;
  status: string;
  input: unknown;
  output: unknown;
  error: Record<string, unknown> | null;
  metadata: Record<string, string>;
  timeout_seconds: number;
  attempt: number;
  max_attempts: number;
  created_by_key_id: string | null;
  created_by_user_id: string | null;
  request_id: string | null;
  input_tokens: string | number;
  output_tokens: string | number;
  run_seconds: number;
  last_seq: number;
  worker_id: string | null;
  cancel_requested_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

/**
 * RunRow's columns, named rather than `*` in prepared statements: a column added by a later migration must not change
 * the result type of a statement a running process has prepared.
 */
export const RUN_COLUMNS =
  'id, tenant_id, agent_id, agent_name, status, input, output, error, metadata, timeout_seconds, attempt, max_attempts, ' +
  'created_by_key_id, created_by_user_id, request_id, input_tokens, output_tokens, run_seconds, last_seq, worker_id, ' +
  'cancel_requested_at, created_at, started_at, finished_at';

export function runView(r: RunRow) {
  return {
    id: r.id,
    agent: r.agent_name,
    status: r.status,
    input: r.input ?? null,
    output: r.output ?? null,
    error: r.error ?? null,
    metadata: r.metadata ?? {},
    attempt: r.attempt,
    timeout_seconds: r.timeout_seconds,
    created_at: r.created_at.toISOString(),
    started_at: r.started_at ? r.started_at.toISOString() : null,
    finished_at: r.finished_at ? r.finished_at.toISOString() : null,
    usage: {
      input_tokens: Number(r.input_tokens),
      output_tokens: Number(r.output_tokens),
      run_seconds: Math.round(r.run_seconds * 1000) / 1000,
    },
  };
}
export type RunView = ReturnType<typeof runView>;

export interface CreateRunInput {
  agent: string;
  input: unknown;
  metadata?: Record<string, string>;
  timeout_seconds?: number;
}

export interface ListRunsQuery {
  limit: number;
  after: string | null;
  status?: string;
  agent?: string;
  created_after?: string;
  created_before?: string;
}

/** Hooks other areas attach to a run's life (quotas and metering, issue 4). */
export interface RunAdmission {
  /**
   * Runs last in the create transaction (the new run is already visible to it); rejects with a problem to refuse the
   * run. Its statements must be issued synchronously and must decide by themselves (a failing statement refuses):
   * COMMIT is sent right behind them, before their answers. With `shared` (the transaction holds `lockKey` shared),
   * it may reject with AdmissionRetry instead: the create is then run again with the lock exclusive.
   */
  admit?(q: Queryable, principal: Principal, shared: boolean): Promise<void>;
  /** The advisory lock the create transaction takes before its statements; none if undefined. */
  lockKey?(tenantId: string): string | undefined;
  /** Whether the tenant's next create should try the lock shared. */
  shareable?(tenantId: string): boolean;
}

export class RunService {
  constructor(
    private readonly db: Database,
    private readonly agents: AgentService,
    private readonly queue: RunQueue,
    private readonly feed: RunFeed,
    private readonly opts: {
      maxAttempts: number;
      admission?: RunAdmission;
      onFinished?: OnRunFinished;
      onError: (err: unknown) => void;
    },
  ) {}

  async create(principal: Principal, body: CreateRunInput, requestId: string): Promise<RunView> {
    const tenantId = principal.tenantId;
    const runId = newId('run');
    // A shipped agent needs no look-up; a tenant's own is read first (a run of an agent deleted meanwhile fails with
    // agent_not_found when it starts).
    const agent = shippedAgent(body.agent) ?? (await this.db.tenant(tenantId, (q) => this.agents.resolve(q, body.agent), { commitEarly: true }));
    this.agents.validateInput(agent, body.input);
    // One round trip: the insert, admission and COMMIT leave together (admission decides in SQL), so the tenant's
    // admission lock is never held while this process works. A second one only when a shared admission was too close
    // to a limit to decide (UsageService.admit).
    const admission = this.opts.admission;
    const lock = admission?.lockKey?.(tenantId);
    // On the PostgreSQL backend the job is added in the same transaction as the run; otherwise an outbox row commits
    // with the run, so if this process dies before the queue has the job, the relay enqueues it.
    const enqueue = this.queue.enqueueStatement?.({ runId, tenantId, attempt: 1 });
    const insert = (shared: boolean) => this.db.tenant(tenantId, (q) => {
      // One statement stores the run, its run.queued event and (without an enqueue statement) its outbox row.
      const inserted = q.query<RunRow>(
        prepared(`with run as (
           insert into runs (id, tenant_id, agent_id, agent_name, input, metadata, timeout_seconds, max_attempts,
                             created_by_key_id, created_by_user_id, request_id, last_seq)
           values ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, 1) returning ${RUN_COLUMNS}),
         queued as (
           insert into run_events (id, tenant_id, run_id, seq, type, data)
           select $12, tenant_id, id, 1, 'run.queued', jsonb_build_object('attempt', 1) from run)${enqueue ? '' : `,
         outbox as (insert into run_outbox (run_id, tenant_id, attempt) select id, tenant_id, 1 from run)`}
         select * from run`),
        [
          runId,
          tenantId,
          agent.id,
          agent.name,
          JSON.stringify(body.input ?? null),
          body.metadata ?? {},
          body.timeout_seconds ?? 600,
          this.opts.maxAttempts,
          principal.apiKeyId,
          principal.userId,
          requestId,
          newId('evt'),
        ],
      );
      const enqueued = enqueue && q.query(prepared(enqueue.text), enqueue.values);
      // Admission comes last, issued right behind the insert (same round trip), under the tenant's admission lock,
      // held until COMMIT. A refusal rolls the whole transaction back: the run was never created.
      const admitted = admission?.admit?.(q, principal, shared);
      return Promise.all([inserted, enqueued, admitted]).then(([res]) => res.rows[0]!);
    }, { commitEarly: true, ...(lock === undefined ? {} : { lock, lockShared: shared }) });
    const shared = lock !== undefined && (admission?.shareable?.(tenantId) ?? false);
    // Before the commit, so that the run's end cannot be signalled before the feed knows the run.
    this.feed.expect(runId, tenantId);
    const row = await insert(shared)
      .catch((err: unknown) => {
        if (shared && err instanceof AdmissionRetry) return insert(false);
        throw err;
      })
      .catch((err: unknown) => {
        this.feed.forget(runId);
        throw err;
      });
    if (!enqueue) await this.dispatch(tenantId, runId, 1);
    return runView(row);
  }

  get onFinished(): OnRunFinished | undefined {
    return this.opts.onFinished;
  }

  /** Tells the processes following runs that these runs have new events (after the transaction committed). */
  publish(...signals: (RunSignal | null | undefined)[]): void {
    this.feed.publish(...signals);
  }

  private delivered = new Map<string, { runIds: string[]; attempts: number[] }>();
  private deliveredTimer: NodeJS.Timeout | undefined;

  /**
   * Hands an attempt to the queue; on failure the relay retries later. The outbox row is cleared afterwards, in
   * batches (the claim clears it too; until then the relay leaves rows younger than its grace period alone, and an
   * enqueue it repeats is ignored by the queue: one job id per attempt).
   */
  async dispatch(tenantId: string, runId: string, attempt: number): Promise<void> {
    try {
      await this.queue.enqueue({ runId, tenantId, attempt });
    } catch (err) {
      this.opts.onError(err);
      return;
    }
    let batch = this.delivered.get(tenantId);
    if (!batch) {
      batch = { runIds: [], attempts: [] };
      this.delivered.set(tenantId, batch);
    }
    batch.runIds.push(runId);
    batch.attempts.push(attempt);
    this.deliveredTimer ??= setTimeout(() => void this.clearDelivered(), 50);
  }

  /** Clears the outbox rows of the attempts handed to the queue (a parked attempt stays: it waits for a slot). */
  async clearDelivered(): Promise<void> {
    clearTimeout(this.deliveredTimer);
    this.deliveredTimer = undefined;
    const batches = this.delivered;
    this.delivered = new Map();
    await Promise.all(
      [...batches].map(([tenantId, b]) =>
        this.db
          .tenant(
            tenantId,
            (q) =>
              q.query(
                prepared(`delete from run_outbox o using unnest($1::text[], $2::int[]) as d(run_id, attempt)
                  where o.run_id = d.run_id and o.attempt = d.attempt and not o.parked`),
                [b.runIds, b.attempts],
              ),
            { commitEarly: true },
          )
          .catch((err: unknown) => this.opts.onError(err)),
      ),
    );
  }

  /** A run of the tenant ended and freed a slot: offer the longest-waiting parked run now, not at the next sweep. */
  async dispatchWaiting(tenantId: string): Promise<void> {
    const next = await this.db.tenant(
      tenantId,
      (q) => q.query<{ run_id: string; attempt: number }>(prepared('select run_id, attempt from run_outbox where parked order by created_at limit 1')),
      { commitEarly: true },
    );
    const row = next.rows[0];
    if (row) await this.dispatch(tenantId, row.run_id, row.attempt);
  }

  async get(tenantId: string, runId: string): Promise<RunView> {
    return runView(await this.db.tenant(tenantId, (q) => this.row(q, runId), { commitEarly: true }));
  }

  private async row(q: Queryable, runId: string, lock = false): Promise<RunRow> {
    const res = await q.query<RunRow>(prepared(`select ${RUN_COLUMNS} from runs where id = $1${lock ? ' for update' : ''}`), [runId]);
    if (!res.rows[0]) throw notFound('Run', runId);
    return res.rows[0];
  }

  async list(tenantId: string, query: ListRunsQuery): Promise<RunView[]> {
    const res = await this.db.tenant(tenantId, (q) =>
      q.query<RunRow>(
        `select * from runs
          where ($1::text is null or id < $1)
            and ($2::text is null or status = $2)
            and ($3::text is null or agent_name = $3 or agent_id = $3)
            and ($4::timestamptz is null or created_at >= $4)
            and ($5::timestamptz is null or created_at < $5)
          order by id desc limit $6`,
        [query.after, query.status ?? null, query.agent ?? null, query.created_after ?? null, query.created_before ?? null, query.limit + 1],
      ),
    );
    return res.rows.map(runView);
  }

  /**
   * Cancels a run. A queued run is cancelled at once (200); a running one is asked to stop and the worker executing
   * it aborts the agent (202, then `cancelled`); a finished run is returned as it is (200).
   */
  async cancel(tenantId: string, runId: string): Promise<{ status: 200 | 202; run: RunView }> {
    const outcome = await this.db.tenant(tenantId, async (q) => {
      const run = await this.row(q, runId, true);
      if (TERMINAL.has(run.status)) return { status: 200 as const, run };
      if (run.status === 'queued') {
        const res = await q.query<RunRow>(
          `update runs set status = 'cancelled', finished_at = now(), lease_until = null where id = $1 returning *`,
          [runId],
        );
        await q.query('delete from run_outbox where run_id = $1', [runId]);
        const signal = await appendEvents(q, runId, [
          { type: 'run.usage', data: { input_tokens: 0, output_tokens: 0, run_seconds: 0 } },
          { type: 'run.completed', data: { status: 'cancelled', output: null, error: null } },
        ]);
        await this.opts.onFinished?.(q, res.rows[0]!);
        return { status: 200 as const, run: res.rows[0]!, signal: signal && { ...signal, run: res.rows[0]! } };
      }
      const res = await q.query<RunRow>(
        'update runs set cancel_requested_at = coalesce(cancel_requested_at, now()) where id = $1 returning *',
        [runId],
      );
      await q.query('select pg_notify($1, $2)', [CANCEL_CHANNEL, runId]);
      return { status: 202 as const, run: res.rows[0]! };
    });
    if ('signal' in outcome) this.publish(outcome.signal);
    return { status: outcome.status, run: runView(outcome.run) };
  }

  /** Long poll: answers as soon as the run is terminal, or with its current state after `timeoutSeconds`. */
  async wait(tenantId: string, runId: string, timeoutSeconds: number, closed: AbortSignal): Promise<{ terminal: boolean; run: RunView }> {
    // A signal may come while the run is being read (the read was answered from a snapshot taken before the run
    // finished): it is remembered, so the loop reads again at once instead of waiting for the next one.
    let signalled = false;
    let wake: (() => void) | undefined;
    const notify = () => {
      signalled = true;
      wake?.();
    };
    // The final row, when this process finished the run: no need to read it again.
    let finished: RunRow | undefined;
    const unsubscribe = this.feed.subscribe(runId, (signal) => {
      if (!signal || signal.type === 'run.completed') {
        if (signal?.run && TERMINAL.has(signal.run.status)) finished = signal.run;
        notify();
      }
    });
    closed.addEventListener('abort', notify, { once: true });
    try {
      // A run this process created and has not seen end needs no first read: its end will wake this loop.
      let unread = this.feed.unended(runId, tenantId);
      const deadline = Date.now() + timeoutSeconds * 1000;
      for (;;) {
        signalled = false;
        // A row handed over is used only if it is the caller's tenant's (a read answers 404 for another's run).
        const run = finished?.tenant_id === tenantId ? runView(finished) : unread ? undefined : await this.get(tenantId, runId);
        unread = false;
        if (run && TERMINAL.has(run.status)) return { terminal: true, run };
        const left = deadline - Date.now();
        if (left <= 0 || closed.aborted) {
          if (run) return { terminal: false, run };
          continue; // answer with a read
        }
        if (signalled) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 5000)); // re-read now and then in case a signal was lost
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      unsubscribe();
      closed.removeEventListener('abort', notify);
    }
  }

  async events(tenantId: string, runId: string, after: number, limit: number): Promise<RunEventView[]> {
    return this.db.tenant(
      tenantId,
      async (q) => {
        const [, events] = await Promise.all([this.row(q, runId), readEvents(q, runId, after, limit)]);
        return events;
      },
      { commitEarly: true },
    );
  }

  /** Streams a run's events from `after` until `run.completed` (or until the client goes away). */
  async stream(
    tenantId: string,
    runId: string,
    after: number,
    write: (e: RunEventView) => boolean,
    heartbeat: () => void,
    closed: AbortSignal,
    heartbeatMs = 15_000,
  ): Promise<void> {
    let wake: () => void = () => undefined;
    let pending = true;
    let cursor = after;
    // Whether the next pass reads the run's status too: on the first pass, after a reconnect or a heartbeat, and for a
    // signal of nothing new. A signal of new events needs only the events: run.completed is among them if it ended.
    // Not on the first pass for a run this process created and has not seen end: its end will be signalled.
    let checkStatus = !this.feed.unended(runId, tenantId);
    const unsubscribe = this.feed.subscribe(runId, (signal) => {
      if (!signal || signal.seq <= cursor) checkStatus = true;
      pending = true;
      wake();
    });
    closed.addEventListener('abort', () => wake(), { once: true });
    try {
      while (!closed.aborted) {
        if (pending) {
          pending = false;
          // Read the status before the events: run.completed commits with the terminal status, so a run that was
          // terminal before this read has all its events stored, and a stream resumed past them can end.
          const check = checkStatus;
          checkStatus = false;
          const wasTerminal = check && TERMINAL.has((await this.get(tenantId, runId)).status);
          for (;;) {
            const batch = await this.db.tenant(tenantId, (q) => readEvents(q, runId, cursor, 500), { commitEarly: true });
            for (const e of batch) {
              write(e);
              cursor = e.seq;
              if (e.type === 'run.completed') return;
            }
            if (batch.length < 500) break;
          }
          if (wasTerminal) return;
          continue;
        }
        const woke = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), heartbeatMs);
          wake = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        if (!woke && !closed.aborted) {
          heartbeat();
          pending = true; // also re-read (the status too) on heartbeats, in case a notification was lost
          checkStatus = true;
        }
      }
    } finally {
      unsubscribe();
    }
  }

  /** Checks that the run exists in the caller's tenant (404 otherwise) before a stream starts. */
  async assertExists(tenantId: string, runId: string): Promise<void> {
    if (this.feed.unended(runId, tenantId)) return; // created here, for this tenant
    await this.db.tenant(tenantId, (q) => this.row(q, runId), { commitEarly: true });
  }
}

export function parseAfter(header: string | undefined, query: number | undefined): number {
  if (header !== undefined && header !== '') {
    if (!/^\d{1,9}$/.test(header.trim())) {
      throw badRequest('Last-Event-ID must be the seq of an event (a non-negative integer).', [
        { field: '/headers/last-event-id', message: 'must be a non-negative integer' },
      ]);
    }
    return Number(header.trim());
  }
  return query ?? 0;
}

export { ProblemError };
