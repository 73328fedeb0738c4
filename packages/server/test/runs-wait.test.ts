// The long poll must not miss a run's end that is signalled while it reads the run: that read may be answered from a
// snapshot taken before the run finished, and the next signal may never come. Only setTimeout is faked, so the
// long poll's periodic re-read (every 5 s) cannot be what answers it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Database, Queryable } from '../src/db/database.js';
import { RunFeed, type SignalBus } from '../src/runs/events.js';
import type { RunQueue } from '../src/runs/queue.js';
import { RunService, type RunRow } from '../src/runs/service.js';
import type { AgentService } from '../src/services/agents.js';

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

function row(status: string): RunRow {
  const at = new Date('2026-11-23T00:00:00Z');
  return {
    id: 'run_1', tenant_id: 'ten_1', agent_id: 'echo', agent_name: 'echo', status, input: {}, output: status === 'succeeded' ? {} : null,
    error: null, metadata: {}, timeout_seconds: 60, attempt: 1, max_attempts: 3, created_by_key_id: null, created_by_user_id: null,
    request_id: null, input_tokens: 0, output_tokens: 0, run_seconds: 0, last_seq: status === 'succeeded' ? 5 : 2, worker_id: null,
    cancel_requested_at: null, created_at: at, started_at: at, finished_at: status === 'succeeded' ? at : null,
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('RunService.wait', () => {
  it('answers the finished run when the end is signalled while the run is being read', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const bus: SignalBus = { publish: async () => undefined, subscribe: async () => async () => undefined };
    const feed = new RunFeed(undefined as unknown as Database, bus);
    await feed.start();
    // Reads of the run: each waits until the test answers it.
    const reads: ((r: RunRow) => void)[] = [];
    const q: Queryable = {
      query: (() => new Promise((resolve) => reads.push((r) => resolve({ rows: [r] })))) as Queryable['query'],
    };
    const db = { tenant: (_t: string, fn: (q: Queryable) => Promise<unknown>) => fn(q) } as unknown as Database;
    const runs = new RunService(db, {} as AgentService, {} as RunQueue, feed, { maxAttempts: 3, onError: () => undefined });

    let answer: { terminal: boolean; run: { status: string } } | undefined;
    void runs.wait('ten_1', 'run_1', 30, new AbortController().signal).then((a) => (answer = a));
    await turns();
    expect(reads).toHaveLength(1);
    // The run finishes (in this process) while the first read is in flight; that read then answers "running".
    feed.publish({ runId: 'run_1', seq: 5, type: 'run.completed', run: row('succeeded') });
    await turns();
    reads[0]!(row('running'));
    await turns();

    expect(answer).toMatchObject({ terminal: true, run: { status: 'succeeded' } });
  });
});

describe('RunService.wait of a run this process created', () => {
  // A feed whose bus the test drives, and a database whose reads of the run are counted and answered at once.
  async function setup(stored: RunRow | undefined) {
    let reconnect: () => void = () => undefined;
    let deliver: (payload: string) => void = () => undefined;
    const bus: SignalBus = {
      publish: async () => undefined,
      subscribe: async (onPayload, onReconnect) => {
        deliver = onPayload;
        reconnect = onReconnect;
        return async () => undefined;
      },
    };
    const feed = new RunFeed(undefined as unknown as Database, bus);
    await feed.start();
    let reads = 0;
    const q: Queryable = {
      query: (async () => {
        reads++;
        return { rows: stored ? [stored] : [] };
      }) as unknown as Queryable['query'],
    };
    const db = { tenant: (_t: string, fn: (q: Queryable) => Promise<unknown>) => fn(q) } as unknown as Database;
    const runs = new RunService(db, {} as AgentService, {} as RunQueue, feed, { maxAttempts: 3, onError: () => undefined });
    return { feed, runs, reads: () => reads, reconnect: () => reconnect(), deliver: (p: string) => deliver(p) };
  }

  it('waits without reading it, and answers the final row its end hands over', async () => {
    const h = await setup(row('running'));
    h.feed.expect('run_1', 'ten_1');
    let answer: { terminal: boolean; run: { status: string } } | undefined;
    void h.runs.wait('ten_1', 'run_1', 30, new AbortController().signal).then((a) => (answer = a));
    await turns();
    expect(h.reads()).toBe(0);
    expect(answer).toBeUndefined();
    h.feed.publish({ runId: 'run_1', seq: 5, type: 'run.completed', run: row('succeeded') });
    await turns();
    expect(answer).toMatchObject({ terminal: true, run: { status: 'succeeded' } });
    expect(h.reads()).toBe(0);
  });

  it("reads it when another tenant asks (404), when it ended elsewhere, and after the bus reconnected", async () => {
    // The periodic re-read (every 5 s) never comes: each answer must come from the first read.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const answered = async (p: Promise<unknown>) => {
      let out: unknown;
      void p.then((v) => (out = v));
      await turns();
      return out;
    };
    const h = await setup(row('succeeded'));
    h.feed.expect('run_1', 'ten_1');
    // Another tenant's long poll reads (and gets what its read gives: here nothing, as RLS would).
    const other = await setup(undefined);
    other.feed.expect('run_1', 'ten_1');
    await expect(other.runs.wait('ten_2', 'run_1', 30, new AbortController().signal)).rejects.toMatchObject({ status: 404 });
    expect(other.reads()).toBe(1);
    // Its end was signalled by another process (no row): a long poll afterwards reads it.
    h.deliver('run_1 5 run.completed someone-else');
    expect(await answered(h.runs.wait('ten_1', 'run_1', 30, new AbortController().signal))).toMatchObject({ terminal: true });
    expect(h.reads()).toBe(1);
    // Signals may have been lost while the bus reconnected: every run created here is read again.
    h.feed.expect('run_2', 'ten_1');
    h.reconnect();
    expect(await answered(h.runs.wait('ten_1', 'run_2', 30, new AbortController().signal))).toMatchObject({ terminal: true });
    expect(h.reads()).toBe(2);
  });

  it('answers with a read when it times out before the end', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const h = await setup(row('running'));
    h.feed.expect('run_1', 'ten_1');
    let answer: { terminal: boolean; run: { status: string } } | undefined;
    void h.runs.wait('ten_1', 'run_1', 2, new AbortController().signal).then((a) => (answer = a));
    await turns();
    expect(h.reads()).toBe(0);
    await vi.advanceTimersByTimeAsync(2_000);
    await turns();
    expect(answer).toMatchObject({ terminal: false, run: { status: 'running' } });
    expect(h.reads()).toBe(1);
  });
});

describe('RunService.stream of a run this process created', () => {
  async function setup() {
    const bus: SignalBus = { publish: async () => undefined, subscribe: async () => async () => undefined };
    const feed = new RunFeed(undefined as unknown as Database, bus);
    await feed.start();
    const at = new Date('2026-11-23T00:00:00Z');
    const stored = [
      { id: 'evt_1', run_id: 'run_1', seq: 1, type: 'run.queued', data: {}, created_at: at },
      { id: 'evt_2', run_id: 'run_1', seq: 2, type: 'run.completed', data: {}, created_at: at },
    ];
    let visible = 1;
    const reads = { run: 0, events: 0 };
    const q: Queryable = {
      query: (async (text: string | { text: string }, values?: unknown[]) => {
        const sql = typeof text === 'string' ? text : text.text;
        if (sql.includes('from run_events')) {
          reads.events++;
          return { rows: stored.slice(0, visible).filter((e) => e.seq > Number(values![1])) };
        }
        reads.run++;
        return { rows: [row(visible === 2 ? 'succeeded' : 'running')] };
      }) as unknown as Queryable['query'],
    };
    const db = { tenant: (_t: string, fn: (q: Queryable) => Promise<unknown>) => fn(q) } as unknown as Database;
    const runs = new RunService(db, {} as AgentService, {} as RunQueue, feed, { maxAttempts: 3, onError: () => undefined });
    return { feed, runs, reads, end: () => (visible = 2) };
  }

  it('reads only its events: no existence check, no status read, until its end', async () => {
    const h = await setup();
    h.feed.expect('run_1', 'ten_1');
    await h.runs.assertExists('ten_1', 'run_1');
    const seen: number[] = [];
    let done = false;
    void h.runs.stream('ten_1', 'run_1', 0, (e) => seen.push(e.seq) > 0, () => undefined, new AbortController().signal).then(() => (done = true));
    await turns();
    expect(seen).toEqual([1]);
    h.end();
    h.feed.publish({ runId: 'run_1', seq: 2, type: 'run.completed' });
    await turns();
    expect(done).toBe(true);
    expect(seen).toEqual([1, 2]);
    expect(h.reads).toEqual({ run: 0, events: 2 });
  });

  it("checks and reads the status of a run it does not know, or another tenant's", async () => {
    const h = await setup();
    h.feed.expect('run_1', 'ten_1');
    await h.runs.assertExists('ten_2', 'run_1');
    expect(h.reads.run).toBe(1);
    h.end();
    await h.runs.stream('ten_2', 'run_1', 0, () => true, () => undefined, new AbortController().signal);
    expect(h.reads.run).toBe(2);
  });
});
