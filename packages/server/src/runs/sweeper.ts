// Housekeeping every process does: relay outbox rows the queue never got, recover runs whose worker vanished,
// time out runs nobody finished, forget expired Idempotency-Key records, and fold the shards of closed usage rollup
// buckets into one row.
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.js';
import type { RunSignal } from './events.js';
import { finishRun, requeueRun, type OnRunFinished } from './lifecycle.js';
import type { RunRow, RunService } from './service.js';

export interface SweeperOptions {
  intervalMs: number;
  outboxGraceMs: number;
  log: FastifyBaseLogger;
  onFinished?: OnRunFinished;
}

export class RunSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastExpiry = 0;
  private lastStale = 0;

  constructor(
    private readonly db: Database,
    private readonly runs: RunService,
    private readonly opts: SweeperOptions,
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.sweep()
        .catch((err) => this.opts.log.warn({ err }, 'run sweep failed'))
        .finally(() => {
          this.running = undefined;
          // Jitter keeps several processes from sweeping in lockstep.
          this.timer = setTimeout(tick, this.opts.intervalMs * (0.75 + Math.random() / 2));
          this.timer.unref();
        });
    };
    this.timer = setTimeout(tick, this.opts.intervalMs * Math.random());
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  async sweep(): Promise<void> {
    const due = await this.db.query<{ run_id: string; tenant_id: string; attempt: number }>(
      'select * from gcorp_outbox_due($1, 200)',
      [this.opts.outboxGraceMs],
    );
    for (const o of due.rows) await this.runs.dispatch(o.tenant_id, o.run_id, o.attempt);

    const lapsed = await this.db.query<{ run_id: string; tenant_id: string }>('select * from gcorp_runs_lapsed(100)');
    for (const l of lapsed.rows) await this.recover(l.tenant_id, l.run_id);

    if (Date.now() - this.lastStale > 15_000) {
      this.lastStale = Date.now();
      const stale = await this.db.query<{ run_id: string; tenant_id: string; attempt: number }>(
        'select * from gcorp_runs_stale_queued(30, 200)',
      );
      for (const s of stale.rows) await this.runs.dispatch(s.tenant_id, s.run_id, s.attempt);
    }

    if (Date.now() - this.lastExpiry > 60_000) {
      this.lastExpiry = Date.now();
      await this.db.query('select gcorp_expire_idempotency_keys()');
      await this.db.query('select gcorp_compact_rollups(1000)');
    }
  }

  /** A run whose lease lapsed lost its worker: retry it within its attempt budget, else fail it clearly. */
  private async recover(tenantId: string, runId: string): Promise<void> {
    const recovered = await this.db.tenant(tenantId, async (q): Promise<{ attempt?: number; signal: RunSignal | null } | null> => {
      const res = await q.query<RunRow & { lapsed: boolean; overtime: boolean }>(
        `select *, lease_until < now() as lapsed,
                started_at + make_interval(secs => timeout_seconds) < now() as overtime
           from runs where id = $1 and status = 'running' for update`,
        [runId],
      );
      const run = res.rows[0];
      if (!run || (!run.lapsed && !run.overtime)) return null;
      const seconds = run.started_at ? Math.max(0, (Date.now() - run.started_at.getTime()) / 1000) : 0;
      const usage = { input_tokens: Number(run.input_tokens), output_tokens: Number(run.output_tokens), run_seconds: seconds };
      if (run.overtime) {
        const finished = await finishRun(q, run, {
          status: 'timed_out',
          output: null,
          error: { code: 'run_timed_out', title: 'Run timed out', status: 504, detail: `The run did not finish within its ${run.timeout_seconds} s timeout.` },
          usage,
        }, { onFinished: this.opts.onFinished });
        return finished && { signal: finished.signal };
      }
      if (run.attempt < run.max_attempts) {
        this.opts.log.warn({ run_id: runId, worker_id: run.worker_id, attempt: run.attempt }, 'worker lost; retrying run');
        return requeueRun(q, run);
      }
      const failed = await finishRun(q, run, {
        status: 'failed',
        output: null,
        error: {
          code: 'worker_lost',
          title: 'Worker lost',
          status: 503,
          detail: `The worker executing this run stopped responding on each of its ${run.max_attempts} attempts.`,
        },
        usage,
      }, { onFinished: this.opts.onFinished });
      return failed && { signal: failed.signal };
    });
    if (!recovered) return;
    this.runs.publish(recovered.signal);
    if (recovered.attempt !== undefined) await this.runs.dispatch(tenantId, runId, recovered.attempt);
  }
}
