// Workers: claim a run attempt, execute its agent with a lease, stream its events, and record how it ended.
// Cancellation reaches the process executing the run through NOTIFY and aborts the agent.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { prepared, type Database } from '../db/database.js';
import { ProblemError } from '../http/problem.js';
import { newId } from '../ids.js';
import { RunFailure, type AgentDefinition, type EmittedEvent, type Runtimes } from '../runtimes/index.js';
import type { AgentService } from '../services/agents.js';
import { RecentlyNearLimit, type RunSlotGuard } from '../services/usage.js';
import { appendEvents, type NewEvent } from './events.js';
import { finishRun, requeueRun, type OnRunFinished, type RunOutcome } from './lifecycle.js';
import type { RunJob, RunQueue, RunWorker } from './queue.js';
import { CANCEL_CHANNEL, RUN_COLUMNS, shippedAgent, type RunRow, type RunService } from './service.js';

/** Most events one statement writes. */
const EVENT_BATCH = 500;

class RunStop extends Error {
  constructor(readonly why: 'cancel' | 'timeout' | 'shutdown') {
    super(`run stopped: ${why}`);
  }
}

export interface ExecutorOptions {
  leaseMs: number;
  concurrency: number;
  log: FastifyBaseLogger;
  onFinished?: OnRunFinished;
  /** Plans that queue instead of refusing: the claim starts a run only while the tenant has a slot free. */
  runSlot?: RunSlotGuard | null;
  onRunStarted?: () => void;
  onRunEnded?: (status: string, usage?: RunOutcome['usage']) => void;
}

export class RunExecutor {
  readonly workerId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly active = new Map<string, AbortController>();
  private worker: RunWorker | undefined;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly db: Database,
    private readonly agents: AgentService,
    private readonly runtimes: Runtimes,
    private readonly queue: RunQueue,
    private readonly runs: RunService,
    private readonly opts: ExecutorOptions,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.db.listen(CANCEL_CHANNEL, (runId) => this.active.get(runId)?.abort(new RunStop('cancel')));
    this.worker = this.queue.work((job) => this.process(job), this.opts.concurrency);
  }

  /** Stops taking jobs; runs still executing are put back in the queue for another worker. */
  async stop(): Promise<void> {
    const closing = this.worker?.close();
    for (const ac of this.active.values()) ac.abort(new RunStop('shutdown'));
    await closing;
    await this.unlisten?.();
  }

  async process(job: RunJob): Promise<void> {
    const { runId } = job;
    // Listen for this run's cancellation before claiming it: a cancel committed right after the claim commits sends
    // its NOTIFY before execute() starts, and must not wait for the next lease renewal to be noticed.
    const ac = new AbortController();
    this.active.set(runId, ac);
    try {
      await this.claimAndRun(job, ac);
    } finally {
      if (this.active.get(runId) === ac) this.active.delete(runId);
    }
  }

  private async claimAndRun(job: RunJob, ac: AbortController): Promise<void> {
    const { runId, tenantId } = job;
    // Under the tenant's slot lock when its plan has slots: shared while the tenant is known to be far from its
    // limit, exclusive near it (see UsageService.runSlotGuard).
    const shared = this.opts.runSlot ? !this.nearLimit.has(tenantId) : false;
    let claim = await this.claim(job, shared);
    if (shared && claim.slot === 'near') {
      this.nearLimit.mark(tenantId);
      claim = await this.claim(job, false);
    }
    const run = claim.run;
    if (!run) return; // a duplicate or stale delivery, a cancelled run, or no slot (parked)
    this.runs.publish({ runId, seq: run.last_seq, type: 'run.started' });
    this.opts.onRunStarted?.();
    // Shipped agents need no look-up: a run of one starts without reading the catalog.
    let agent: AgentDefinition | ProblemError | undefined = shippedAgent(run.agent_id);
    if (!agent) {
      try {
        agent = await this.db.tenant(tenantId, (q) => this.agents.resolve(q, run.agent_id), { commitEarly: true });
      } catch (err) {
        if (!(err instanceof ProblemError)) {
          this.opts.log.warn({ err, run_id: runId }, 'could not read the agent of a claimed run; retrying it');
          await this.settle(run, 'retry', new EventWriter(this.db, this.runs, run));
          return;
        }
        agent = err;
      }
    }
    const events = new EventWriter(this.db, this.runs, run);
    const outcome = agent instanceof ProblemError
      ? failure('agent_not_found', 'Agent not found', 404, `The run's agent ${run.agent_name} no longer exists.`, zeroUsage())
      : await this.execute(run, agent, ac, events);
    await this.settle(run, outcome, events);
  }

  /**
   * One statement claims the attempt (if it is still due and the tenant has a slot), stores run.started and clears
   * the outbox row; or parks the attempt in the outbox when the tenant is at its concurrency limit (the relay, or the
   * next run of the tenant to finish, offers it again); or, under the shared slot lock close to the limit, does
   * nothing and answers 'near' (decide again under the exclusive lock).
   */
  private async claim(job: RunJob, shared: boolean): Promise<{ run: RunRow | undefined; slot: string }> {
    const { runId, tenantId, attempt } = job;
    const guard = this.opts.runSlot ?? null;
    const res = await this.db.tenant(
      tenantId,
      (q) =>
        q.query<RunRow & { slot: string }>(
          prepared(`with slot as (select ${guard ? guard.state(6, shared) : "'free'"} as state),
                claimed as (
                  update runs set status = 'running', started_at = now(), worker_id = $2,
                         lease_until = now() + make_interval(secs => $3), last_seq = last_seq + 1
                   where id = $1 and status = 'queued' and attempt = $4 and (select state from slot) = 'free'
                  returning ${RUN_COLUMNS}),
                started as (
                  insert into run_events (id, tenant_id, run_id, seq, type, data)
                  select $5, tenant_id, id, last_seq, 'run.started', jsonb_build_object('attempt', attempt) from claimed),
                cleared as (delete from run_outbox where run_id = $1 and exists (select 1 from claimed)),
                parked as (
                  insert into run_outbox (run_id, tenant_id, attempt, parked)
                  select id, tenant_id, attempt, true from runs
                   where id = $1 and status = 'queued' and attempt = $4 and (select state from slot) = 'full'
                  on conflict (run_id) do update set created_at = now(), parked = true)
           select claimed.*, slot.state as slot from slot left join claimed on true`),
          [runId, this.workerId, this.opts.leaseMs / 1000, attempt, newEventId(), ...(guard ? [guard.param] : [])],
        ),
      { commitEarly: true, ...(guard ? { lock: guard.lockKey(tenantId), lockShared: shared } : {}) },
    );
    const row = res.rows[0]!;
    return { run: row.id ? row : undefined, slot: row.slot };
  }

  /** Tenants whose claims found them close to their concurrency limit lately: their claims take the exclusive lock. */
  private readonly nearLimit = new RecentlyNearLimit();

  private async execute(run: RunRow, agent: AgentDefinition, ac: AbortController, events: EventWriter): Promise<RunOutcome | 'retry'> {
    const started = performance.now();
    const usage = { input_tokens: 0, output_tokens: 0 };
    const seconds = () => Math.round(performance.now() - started) / 1000;
    const timeout = setTimeout(() => ac.abort(new RunStop('timeout')), run.timeout_seconds * 1000);
    const heartbeat = setInterval(() => void this.renewLease(run, ac), Math.max(50, this.opts.leaseMs / 3));
    try {
      if (run.cancel_requested_at) throw new RunStop('cancel');
      if (ac.signal.aborted) throw ac.signal.reason;
      const runtime = this.runtimes.forAgent(agent, run.tenant_id);
      const emit = async (e: EmittedEvent) => {
        if (ac.signal.aborted) return;
        let data = e.data as Record<string, unknown>;
        if (e.type === 'run.usage') {
          usage.input_tokens = e.data.input_tokens;
          usage.output_tokens = e.data.output_tokens;
          data = { ...e.data, run_seconds: seconds() };
        }
        events.push({ type: e.type, data });
      };
      const result = await runtime.execute({
        runId: run.id,
        tenantId: run.tenant_id,
        attempt: run.attempt,
        agent,
        input: run.input,
        metadata: run.metadata,
        signal: ac.signal,
        emit,
        log: this.opts.log.child({ run_id: run.id, tenant_id: run.tenant_id }),
      });
      if (ac.signal.aborted) throw ac.signal.reason;
      return { status: 'succeeded', output: result.output, error: null, usage: { ...result.usage, run_seconds: seconds() } };
    } catch (err) {
      const reason = ac.signal.aborted ? ac.signal.reason : err;
      const used = { ...usage, run_seconds: seconds() };
      if (reason instanceof RunStop) {
        if (reason.why === 'cancel') return { status: 'cancelled', output: null, error: null, usage: used };
        if (reason.why === 'shutdown') return 'retry';
        return failure('run_timed_out', 'Run timed out', 504, `The run did not finish within its ${run.timeout_seconds} s timeout.`, used, 'timed_out');
      }
      if (reason instanceof RunFailure) {
        if (reason.retryable && run.attempt < run.max_attempts) return 'retry';
        return failure(reason.code, reason.title, reason.status, reason.detail, used);
      }
      this.opts.log.error({ err: reason, run_id: run.id }, 'agent crashed');
      return failure('agent_crashed', 'Agent crashed', 500, 'The agent failed unexpectedly; the error has been logged.', used);
    } finally {
      clearTimeout(timeout);
      clearInterval(heartbeat);
    }
  }

  private async settle(run: RunRow, outcome: RunOutcome | 'retry', events: EventWriter): Promise<void> {
    // The agent's events not stored yet commit with the outcome, before run.usage and run.completed.
    const pending = await events.drain();
    if (outcome === 'retry') {
      const requeued = await this.db.tenant(run.tenant_id, (q) => requeueRun(q, run, this.workerId, pending));
      if (requeued !== null) {
        this.runs.publish(requeued.signal);
        await this.runs.dispatch(run.tenant_id, run.id, requeued.attempt);
      }
      this.opts.onRunEnded?.('requeued');
      return;
    }
    const slots = Boolean(this.opts.runSlot);
    // One round trip: the final state with the events, the usage record, and (plans with slots) the oldest run of
    // the tenant parked for want of a slot, which the slot freed here lets start now rather than at the next sweep.
    const { finished, parked } = await this.db.tenant(
      run.tenant_id,
      async (q) => {
        const finishing = finishRun(q, run, outcome, { workerId: this.workerId, onFinished: this.opts.onFinished, events: pending });
        const waiting = slots
          ? q.query<{ run_id: string; attempt: number }>(prepared('select run_id, attempt from run_outbox where parked order by created_at limit 1'))
          : undefined;
        const [f, w] = await Promise.all([finishing, waiting]);
        return { finished: f, parked: w?.rows[0] };
      },
      { commitEarly: true },
    );
    if (finished) this.runs.publish(finished.signal);
    this.opts.onRunEnded?.(outcome.status, outcome.usage);
    if (parked) await this.runs.dispatch(run.tenant_id, parked.run_id, parked.attempt);
  }

  /** Extends the lease while the agent runs; notices a cancellation whose NOTIFY this process missed. */
  private async renewLease(run: RunRow, ac: AbortController): Promise<void> {
    try {
      const res = await this.db.tenant(run.tenant_id, (q) =>
        q.query<{ cancel_requested_at: Date | null }>(
          `update runs set lease_until = now() + make_interval(secs => $3)
            where id = $1 and worker_id = $2 and status = 'running' returning cancel_requested_at`,
          [run.id, this.workerId, this.opts.leaseMs / 1000],
        ),
      );
      const row = res.rows[0];
      if (!row) ac.abort(new RunStop('shutdown')); // someone else owns the run now: stop without recording anything
      else if (row.cancel_requested_at) ac.abort(new RunStop('cancel'));
    } catch (err) {
      this.opts.log.warn({ err, run_id: run.id }, 'could not renew run lease');
    }
  }
}

function zeroUsage() {
  return { input_tokens: 0, output_tokens: 0, run_seconds: 0 };
}

function failure(
  code: string,
  title: string,
  status: number,
  detail: string,
  usage: RunOutcome['usage'],
  final: 'failed' | 'timed_out' = 'failed',
): RunOutcome {
  return { status: final, output: null, error: { code, title, status, detail }, usage };
}

function newEventId(): string {
  return newId('evt');
}

/**
 * The events an agent emits while it runs, written in batches: a batch is written as soon as no write of the run is
 * in flight (on the next turn of the event loop, so events emitted together share a statement), and whatever is left
 * when the agent ends commits with its outcome. Readers are signalled after each commit.
 */
class EventWriter {
  private pending: NewEvent[] = [];
  private writing: Promise<void> | undefined;
  private scheduled: NodeJS.Immediate | undefined;
  private failed: unknown;

  constructor(
    private readonly db: Database,
    private readonly runs: RunService,
    private readonly run: RunRow,
  ) {}

  push(e: NewEvent): void {
    if (this.failed !== undefined) {
      // The last write failed (its events wait here for the next one): tell the agent, as a failed write would have.
      const err = this.failed;
      this.failed = undefined;
      throw err;
    }
    this.pending.push(e);
    this.schedule();
  }

  /** Waits for the write in flight and hands over the events not written yet. */
  async drain(): Promise<NewEvent[]> {
    clearImmediate(this.scheduled);
    this.scheduled = undefined;
    await this.writing;
    this.failed = undefined;
    return this.pending.splice(0);
  }

  private schedule(): void {
    if (this.scheduled || this.writing || this.pending.length === 0) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      this.write();
    });
  }

  private write(): void {
    const batch = this.pending.splice(0, EVENT_BATCH);
    this.writing = this.db
      .tenant(this.run.tenant_id, (q) => appendEvents(q, this.run.id, batch), { commitEarly: true })
      .then(
        (signal) => this.runs.publish(signal),
        (err: unknown) => {
          this.pending.unshift(...batch);
          this.failed = err;
        },
      )
      .finally(() => {
        this.writing = undefined;
        if (this.failed === undefined) this.schedule();
      });
  }
}
