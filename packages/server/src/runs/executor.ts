// Workers: claim a run attempt, execute its agent with a lease, stream its events, and record how it ended.
// Cancellation reaches the process executing the run through NOTIFY and aborts the agent.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Database, Queryable } from '../db/database.js';
import { ProblemError } from '../http/problem.js';
import { RunFailure, type AgentDefinition, type EmittedEvent, type Runtimes } from '../runtimes/index.js';
import type { AgentService } from '../services/agents.js';
import { appendEvent } from './events.js';
import { finishRun, requeueRun, type OnRunFinished, type RunOutcome } from './lifecycle.js';
import type { RunJob, RunQueue, RunWorker } from './queue.js';
import { CANCEL_CHANNEL, type RunRow, type RunService } from './service.js';

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
  /** Plans that queue instead of refusing: may the tenant start another run now? (checked at claim time) */
  hasRunSlot?: (q: Queryable, tenantId: string) => Promise<boolean>;
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
    const { runId, tenantId, attempt } = job;
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
    const { runId, tenantId, attempt } = job;
    const claimed = await this.db.tenant(tenantId, async (q) => {
      if (this.opts.hasRunSlot && !(await this.opts.hasRunSlot(q, tenantId))) {
        // The tenant is at its concurrency limit: the attempt waits in the outbox and the relay offers it again.
        await q.query(
          `insert into run_outbox (run_id, tenant_id, attempt) select id, tenant_id, attempt from runs
            where id = $1 and status = 'queued' and attempt = $2 on conflict (run_id) do update set created_at = now()`,
          [runId, attempt],
        );
        return null;
      }
      const res = await q.query<RunRow>(
        `update runs set status = 'running', started_at = now(), worker_id = $2,
                lease_until = now() + make_interval(secs => $3)
          where id = $1 and status = 'queued' and attempt = $4 returning *`,
        [runId, this.workerId, this.opts.leaseMs / 1000, attempt],
      );
      const run = res.rows[0];
      if (!run) return null; // a duplicate or stale delivery: the attempt already ran, or the run was cancelled
      await q.query('delete from run_outbox where run_id = $1', [runId]);
      await appendEvent(q, tenantId, runId, 'run.started', { attempt });
      let agent: AgentDefinition | ProblemError;
      try {
        agent = await this.agents.resolve(q, run.agent_id);
      } catch (err) {
        if (!(err instanceof ProblemError)) throw err;
        agent = err;
      }
      return { run, agent };
    });
    if (!claimed) return;
    this.opts.onRunStarted?.();
    const { run, agent } = claimed;
    const outcome = agent instanceof ProblemError
      ? failure('agent_not_found', 'Agent not found', 404, `The run's agent ${run.agent_name} no longer exists.`, zeroUsage())
      : await this.execute(run, agent, ac);
    await this.settle(run, outcome);
  }

  private async execute(run: RunRow, agent: AgentDefinition, ac: AbortController): Promise<RunOutcome | 'retry'> {
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
        await this.db.tenant(run.tenant_id, (q) => appendEvent(q, run.tenant_id, run.id, e.type, data));
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

  private async settle(run: RunRow, outcome: RunOutcome | 'retry'): Promise<void> {
    if (outcome === 'retry') {
      const attempt = await this.db.tenant(run.tenant_id, (q) => requeueRun(q, run, this.workerId));
      if (attempt !== null) await this.runs.dispatch(run.tenant_id, run.id, attempt);
      this.opts.onRunEnded?.('requeued');
      return;
    }
    await this.db.tenant(run.tenant_id, (q) =>
      finishRun(q, run, outcome, { workerId: this.workerId, onFinished: this.opts.onFinished }),
    );
    this.opts.onRunEnded?.(outcome.status, outcome.usage);
    if (this.opts.hasRunSlot) await this.runs.dispatchWaiting(run.tenant_id).catch((err) => this.opts.log.warn({ err }, 'could not offer a waiting run'));
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
