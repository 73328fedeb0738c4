// Run events: stored with a per-run sequence. Once the transaction that wrote them has committed, a signal tells every
// process that the run has news (Redis pub/sub when the hub has Redis, else NOTIFY), so they can follow it live.
// Signals only wake readers, who read the events from PostgreSQL: a lost signal delays a reader, never loses an event.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { prepared, type Database, type Queryable } from '../db/database.js';
import { newId } from '../ids.js';
import type { RunRow } from './service.js';

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

export interface NewEvent {
  type: RunEventType;
  data: Record<string, unknown>;
}

/**
 * The events as one JSON parameter for `jsonb_array_elements(...) with ordinality` (see eventsInsertSql): each with
 * its id, type and data.
 */
export function eventsParam(events: readonly NewEvent[]): string {
  return JSON.stringify(events.map((e) => ({ id: newId('evt'), type: e.type, data: e.data })));
}

/**
 * SQL inserting the events of JSON parameter `$${param}` (eventsParam) after the run row of CTE `from`, which must
 * have the run's `id`, `tenant_id` and its `last_seq` already advanced by the number of events: they take the seqs
 * last_seq - n + 1 .. last_seq, in order.
 */
export function eventsInsertSql(from: string, param: number): string {
  return `insert into run_events (id, tenant_id, run_id, seq, type, data)
          select e.v->>'id', r.tenant_id, r.id, r.last_seq - jsonb_array_length($${param}::jsonb) + e.i::int, e.v->>'type', e.v->'data'
            from ${from} r, jsonb_array_elements($${param}::jsonb) with ordinality as e(v, i)`;
}

/**
 * Appends events to a run inside the caller's tenant transaction, in one statement (the row lock on the run
 * serialises writers, so seq has no gaps and no duplicates). Resolves to the signal to publish once the transaction
 * has committed, or null when the run does not exist (no event written).
 */
export async function appendEvents(q: Queryable, runId: string, events: readonly NewEvent[]): Promise<RunSignal | null> {
  if (events.length === 0) return null;
  const res = await q.query<{ last_seq: number }>(
    prepared(`with next as (update runs set last_seq = last_seq + $2 where id = $1 returning id, tenant_id, last_seq),
          ins as (${eventsInsertSql('next', 3)})
     select last_seq from next`),
    [runId, events.length, eventsParam(events)],
  );
  const seq = res.rows[0]?.last_seq;
  return seq === undefined ? null : { runId, seq, type: events[events.length - 1]!.type };
}

export async function readEvents(q: Queryable, runId: string, after: number, limit: number): Promise<RunEventView[]> {
  const res = await q.query<EventRow>(
    prepared('select id, run_id, seq, type, data, created_at from run_events where run_id = $1 and seq > $2 order by seq limit $3'),
    [runId, after, limit],
  );
  return res.rows.map(eventView);
}

export interface RunSignal {
  runId: string;
  /** The last seq the committed transaction wrote. */
  seq: number;
  /** The type of that last event (`run.completed` ends a run). */
  type: string;
  /**
   * The run's row as that transaction left it, when the publisher has it (a finished run). Only the requests of the
   * publishing process get it, which then need not read the run again; other processes get the signal alone.
   */
  run?: RunRow;
}

/** Carries signals between processes: Redis pub/sub (RunQueue.signals) or PostgreSQL NOTIFY (the default). */
export interface SignalBus {
  publish(payload: string): Promise<void>;
  /** Resolves once subscribed, with the function that unsubscribes; onReconnect runs when signals may have been lost. */
  subscribe(onPayload: (payload: string) => void, onReconnect: () => void): Promise<() => Promise<void>>;
}

/** NOTIFY after commit: a transaction of its own that writes nothing, so it never holds the NOTIFY lock across a WAL flush. */
export function notifyBus(db: Database, channel = EVENTS_CHANNEL): SignalBus {
  return {
    async publish(payload) {
      await db.notify(channel, payload);
    },
    subscribe(onPayload, onReconnect) {
      return db.listen(channel, onPayload, onReconnect);
    },
  };
}

/** NOTIFY payloads are limited to 8000 bytes; Redis messages are kept as small. */
const MAX_PAYLOAD = 7_000;
/** How long, and how many, runs created here RunFeed keeps track of (RunFeed.unended). */
const RECENT_MS = 10 * 60_000;
const RECENT_MAX = 20_000;

/**
 * One subscription per process, fanned out to the requests following a run (SSE streams, long polls). Signals
 * published in one turn of the event loop leave together, one message per ~7 kB; the requests of the publishing process
 * get them at once, without the round trip through the bus (and the copy the bus brings back is dropped).
 */
export class RunFeed {
  private readonly emitter = new EventEmitter();
  private unlisten: (() => Promise<void>) | undefined;
  private readonly bus: SignalBus;
  /** Tags this process's messages, so that it can drop its own when the bus delivers them back. */
  private readonly origin = randomBytes(6).toString('hex');
  private outgoing: RunSignal[] = [];
  private flushing = false;
  /**
   * Runs created by this process lately whose end no signal has announced yet, oldest first. All are dropped when the
   * bus reconnects (signals may have been lost).
   */
  private readonly recent = new Map<string, { tenantId: string; expires: number }>();

  constructor(
    db: Database,
    bus?: SignalBus,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.emitter.setMaxListeners(0);
    this.bus = bus ?? notifyBus(db);
  }

  async start(): Promise<void> {
    this.unlisten = await this.bus.subscribe(
      (payload) => {
        for (const line of payload.split('\n')) {
          // "<run id> <seq> <type> <origin>"; a message of an earlier version has no origin.
          const [runId, seq, type, origin] = line.split(' ');
          if (origin === this.origin) continue; // delivered here when it was published
          if (runId && seq && type) this.deliver({ runId, seq: Number(seq), type });
        }
      },
      // Signals may have been lost while reconnecting: wake everyone so they re-read from the database.
      () => {
        this.recent.clear();
        this.emitter.emit('*reconnect');
      },
    );
  }

  private deliver(s: RunSignal): void {
    if (s.type === 'run.completed') this.recent.delete(s.runId);
    this.emitter.emit(s.runId, s);
  }

  /**
   * Notes a run this process is about to create (call it before its transaction commits, and forget it if that
   * fails): until a signal says otherwise, the run has not ended, so a long poll of it need not read it first.
   */
  expect(runId: string, tenantId: string): void {
    const now = Date.now();
    for (const [id, e] of this.recent) {
      if (e.expires > now && this.recent.size < RECENT_MAX) break;
      this.recent.delete(id);
    }
    this.recent.set(runId, { tenantId, expires: now + RECENT_MS });
  }

  forget(runId: string): void {
    this.recent.delete(runId);
  }

  /**
   * True for a run of the tenant that this process created and whose end no signal has announced: it has not ended,
   * or its end will be signalled. False when unknown (read the run).
   */
  unended(runId: string, tenantId: string): boolean {
    const e = this.recent.get(runId);
    return e !== undefined && e.tenantId === tenantId && e.expires > Date.now();
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
  }

  /** Announces committed events (call it after the transaction that wrote them committed). Never throws. */
  publish(...signals: (RunSignal | null | undefined)[]): void {
    for (const s of signals) if (s) this.outgoing.push(s);
    if (this.flushing || this.outgoing.length === 0) return;
    this.flushing = true;
    setImmediate(() => {
      const batch = this.outgoing;
      this.outgoing = [];
      this.flushing = false;
      const payloads: string[] = [];
      let current = '';
      for (const s of batch) {
        const line = `${s.runId} ${s.seq} ${s.type} ${this.origin}`;
        if (current && current.length + line.length + 1 > MAX_PAYLOAD) {
          payloads.push(current);
          current = '';
        }
        current = current ? `${current}\n${line}` : line;
      }
      if (current) payloads.push(current);
      for (const p of payloads) this.bus.publish(p).catch((err: unknown) => this.onError(err));
      for (const s of batch) {
        try {
          this.deliver(s);
        } catch (err) {
          this.onError(err);
        }
      }
    });
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
