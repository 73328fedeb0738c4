// Run events: stored with a per-run sequence, announced with NOTIFY at commit so every process can follow a run live.
import { EventEmitter } from 'node:events';
import type { Database, Queryable } from '../db/database.js';
import { newId } from '../ids.js';

export const EVENTS_CHANNEL = 'gcorp_run_events';
export type RunEventType = 'run.queued' | 'run.started' | 'run.output.delta' | 'run.log' | 'run.usage' | 'run.completed';

export interface RunEventView {
  id: string;
  run_id: string;
  seq: number;
  type: RunEventType;
  data: Record<string, unknown>;
  created_at: string;
}

interface EventRow {
  id: string;
  run_id: string;
  seq: number;
  type: RunEventType;
  data: Record<string, unknown>;
  created_at: Date;
}

export const eventView = (r: EventRow): RunEventView => ({
  id: r.id,
  run_id: r.run_id,
  seq: r.seq,
  type: r.type,
  data: r.data,
  created_at: r.created_at.toISOString(),
});

/** Appends an event inside the caller's tenant transaction; the NOTIFY goes out when it commits. */
export async function appendEvent(
  q: Queryable,
  tenantId: string,
  runId: string,
  type: RunEventType,
  data: Record<string, unknown>,
): Promise<number> {
  // The row lock on the run serialises writers, so seq has no gaps and no duplicates.
  // One round trip: next seq, the event row, and the NOTIFY that goes out when the transaction commits.
  const res = await q.query<{ seq: number }>(
    `with next as (update runs set last_seq = last_seq + 1 where id = $1 returning last_seq),
          ins as (insert into run_events (id, tenant_id, run_id, seq, type, data)
                  select $2, $3, $1, last_seq, $4, $5 from next returning seq)
     select seq, pg_notify($6, $1 || ' ' || seq || ' ' || $4) from ins`,
    [runId, newId('evt'), tenantId, type, data, EVENTS_CHANNEL],
  );
  return res.rows[0]!.seq;
}

export async function readEvents(q: Queryable, runId: string, after: number, limit: number): Promise<RunEventView[]> {
  const res = await q.query<EventRow>(
    'select id, run_id, seq, type, data, created_at from run_events where run_id = $1 and seq > $2 order by seq limit $3',
    [runId, after, limit],
  );
  return res.rows.map(eventView);
}

export interface RunSignal {
  runId: string;
  seq: number;
  type: string;
}

/** One LISTEN per process, fanned out to the requests following a run (SSE streams, long polls). */
export class RunFeed {
  private readonly emitter = new EventEmitter();
  private unlisten: (() => Promise<void>) | undefined;

  constructor(private readonly db: Database) {
    this.emitter.setMaxListeners(0);
  }

  async start(): Promise<void> {
    this.unlisten = await this.db.listen(
      EVENTS_CHANNEL,
      (payload) => {
        const [runId, seq, type] = payload.split(' ');
        if (runId && seq && type) this.emitter.emit(runId, { runId, seq: Number(seq), type } satisfies RunSignal);
      },
      // Notifications may have been lost while reconnecting: wake everyone so they re-read from the database.
      () => this.emitter.emit('*reconnect'),
    );
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
  }

  /** Calls `fn` on each new event of the run (and on reconnects); returns the unsubscribe function. */
  subscribe(runId: string, fn: (signal: RunSignal | null) => void): () => void {
    const onReconnect = () => fn(null);
    this.emitter.on(runId, fn);
    this.emitter.on('*reconnect', onReconnect);
    return () => {
      this.emitter.off(runId, fn);
      this.emitter.off('*reconnect', onReconnect);
    };
  }
}
