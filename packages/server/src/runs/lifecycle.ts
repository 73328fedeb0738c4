// Run state transitions shared by workers and the sweeper. Every transition is conditional on the current state,
// so terminal states never change and two processes racing on one run cannot both win.
import { prepared, type Queryable } from '../db/database.js';
import { PROBLEM_BASE } from '../http/problem.js';
import { appendEvents, eventsInsertSql, eventsParam, type NewEvent, type RunSignal } from './events.js';
import { RUN_COLUMNS, type RunRow } from './service.js';

export type FinalStatus = 'succeeded' | 'failed' | 'cancelled' | 'timed_out';

export interface RunOutcome {
  status: FinalStatus;
  output: unknown;
  error: { code: string; title: string; status: number; detail: string } | null;
  usage: { input_tokens: number; output_tokens: number; run_seconds: number };
}

/** Hook for what must commit with a run's final state (usage metering, concurrency slots: issue 4). */
export type OnRunFinished = (q: Queryable, run: RunRow) => Promise<void>;

export function problemFor(run: Pick<RunRow, 'request_id' | 'id'>, e: NonNullable<RunOutcome['error']>) {
  return {
    type: PROBLEM_BASE + e.code,
    title: e.title,
    status: e.status,
    detail: e.detail,
    code: e.code,
    request_id: run.request_id ?? run.id,
  };
}

/**
 * Records a run's final state if it is still `running` (and, when `workerId` is given, still held by that worker),
 * with `events` (emitted by the agent and not stored yet), run.usage and run.completed, in one statement; the
 * onFinished hook's statements follow in the same round trip (they must only act on a run that reached its final
 * state). Resolves to the updated row and the signal to publish after commit, or null when another process already
 * finished or took over the run.
 */
export async function finishRun(
  q: Queryable,
  run: RunRow,
  outcome: RunOutcome,
  opts: { workerId?: string; onFinished?: OnRunFinished; events?: readonly NewEvent[] },
): Promise<{ run: RunRow; signal: RunSignal } | null> {
  const error = outcome.error ? problemFor(run, outcome.error) : null;
  const output = outcome.status === 'succeeded' ? (outcome.output ?? null) : null;
  const events: NewEvent[] = [
    ...(opts.events ?? []),
    { type: 'run.usage', data: { ...outcome.usage } },
    { type: 'run.completed', data: { status: outcome.status, output, error } },
  ];
  const finished = q.query<RunRow>(
    prepared(`with done as (
       update runs set status = $2, output = $3::jsonb, error = $4, finished_at = now(), lease_until = null,
              input_tokens = $5, output_tokens = $6, run_seconds = $7, last_seq = last_seq + $9
        where id = $1 and status = 'running' and ($8::text is null or worker_id = $8)
        returning ${RUN_COLUMNS}),
     ev as (${eventsInsertSql('done', 10)})
     select * from done`),
    [
      run.id,
      outcome.status,
      outcome.status === 'succeeded' ? JSON.stringify(output) : null,
      error,
      outcome.usage.input_tokens,
      outcome.usage.output_tokens,
      outcome.usage.run_seconds,
      opts.workerId ?? null,
      events.length,
      eventsParam(events),
    ],
  );
  // Issued before the answer, in the same round trip: the hook sees the row as the update leaves it.
  const hooked = opts.onFinished?.(q, {
    ...run,
    status: outcome.status,
    input_tokens: outcome.usage.input_tokens,
    output_tokens: outcome.usage.output_tokens,
    run_seconds: outcome.usage.run_seconds,
  });
  const [res] = await Promise.all([finished, hooked]);
  const done = res.rows[0];
  if (!done) return null;
  return { run: done, signal: { runId: run.id, seq: done.last_seq, type: 'run.completed', run: done } };
}

/**
 * Puts a running run back in the queue as its next attempt, after storing `events` it emitted; the caller dispatches
 * the attempt and publishes the signal after commit.
 */
export async function requeueRun(
  q: Queryable,
  run: RunRow,
  workerId?: string,
  events: readonly NewEvent[] = [],
): Promise<{ attempt: number; signal: RunSignal | null } | null> {
  const res = await q.query<{ attempt: number }>(
    `update runs set status = 'queued', attempt = attempt + 1, worker_id = null, lease_until = null
      where id = $1 and status = 'running' and ($2::text is null or worker_id = $2)
      returning attempt`,
    [run.id, workerId ?? null],
  );
  const attempt = res.rows[0]?.attempt;
  if (attempt === undefined) return null;
  const signal = await appendEvents(q, run.id, [...events, { type: 'run.queued', data: { attempt } }]);
  await q.query(
    `insert into run_outbox (run_id, tenant_id, attempt) values ($1, $2, $3)
     on conflict (run_id) do update set attempt = excluded.attempt, created_at = now(), parked = false`,
    [run.id, run.tenant_id, attempt],
  );
  return { attempt, signal };
}
