// Run events over SSE, followed with the third-party `eventsource` client: resume after a dropped connection (a TCP
// proxy between client and hub cuts its upstream socket, EventSource reconnects with Last-Event-ID), `?after=`,
// heartbeats on a quiet stream, another tenant's stream, a client that goes away, and the JSON list form with paging.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractFetch } from '@genericcorp/contract';
import { bootstrap, createTenant, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';
import {
  allEvents,
  clientFor,
  parseSse,
  pollRun,
  replayEvents,
  sleep,
  waitForRun,
  type RunBody,
  type RunEvent,
} from './helpers/processes.js';

const EVENT_TYPES = ['run.queued', 'run.started', 'run.output.delta', 'run.log', 'run.usage', 'run.completed'];
const HEARTBEAT_MS = 200;

let t: TestHub;
let admin: Tenant;
let other: Tenant;
let api: ContractFetch;

beforeAll(async () => {
  t = await startTestHub({ sseHeartbeatMs: HEARTBEAT_MS });
  admin = await bootstrap(t);
  other = await createTenant(t, admin, 'Other Corp');
  api = clientFor(t.url, admin.key);
});
afterAll(async () => t?.close());

/** A TCP proxy in front of the hub that can cut every connection's upstream socket, as a load balancer might. */
class CuttingProxy {
  readonly connections: Array<{ client: Socket; upstream: Socket; head: string }> = [];
  private server: Server | undefined;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      const conn = { client, upstream, head: '' };
      this.connections.push(conn);
      client.on('data', (d: Buffer) => {
        if (conn.head.length < 8192) conn.head += d.toString('latin1');
      });
      client.pipe(upstream);
      upstream.pipe(client);
      upstream.on('close', () => client.end());
      client.on('close', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Destroys the upstream socket of every open connection. */
  cutUpstream(): number {
    let cut = 0;
    for (const c of this.connections) {
      if (!c.upstream.destroyed) {
        c.upstream.destroy();
        cut++;
      }
    }
    return cut;
  }

  /** The Last-Event-ID request header each connection sent (undefined when none). */
  lastEventIds(): Array<string | undefined> {
    return this.connections.map((c) => /\r\nlast-event-id: *([^\r\n]*)/i.exec(c.head)?.[1]);
  }

  async close(): Promise<void> {
    for (const c of this.connections) {
      c.client.destroy();
      c.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

interface Followed {
  es: EventSource;
  events: RunEvent[];
  lastEventIds: string[];
  opens: number;
  errors: Array<{ code?: number; message?: string }>;
  /** Resolves with the events once run.completed has arrived (the EventSource is then closed). */
  done: Promise<RunEvent[]>;
  /** Resolves once `n` events have arrived. */
  count(n: number): Promise<void>;
}

/** Follows a run's events with EventSource, authenticated through its `fetch` option. */
function follow(url: string, token: string, requests?: string[]): Followed {
  const es = new EventSource(url, {
    fetch: (input, init) => {
      requests?.push(String(input));
      return fetch(input, { ...init, headers: { ...init?.headers, authorization: `Bearer ${token}` } });
    },
  });
  const events: RunEvent[] = [];
  const lastEventIds: string[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let resolveDone: (e: RunEvent[]) => void = () => undefined;
  const done = new Promise<RunEvent[]>((resolve) => (resolveDone = resolve));
  const f: Followed = {
    es,
    events,
    lastEventIds,
    opens: 0,
    errors: [],
    done,
    count: (n) =>
      new Promise<void>((resolve) => {
        waiters.push({ n, resolve });
        if (events.length >= n) resolve();
      }),
  };
  es.addEventListener('open', () => f.opens++);
  es.addEventListener('error', (e) => f.errors.push({ code: e.code, message: e.message }));
  for (const type of EVENT_TYPES) {
    es.addEventListener(type, (m: MessageEvent) => {
      const e = JSON.parse(m.data as string) as RunEvent;
      events.push(e);
      lastEventIds.push(m.lastEventId);
      for (const w of waiters) if (events.length >= w.n) w.resolve();
      if (e.type === 'run.completed') {
        // The server closes the stream after run.completed; EventSource would reconnect, so the client stops here.
        es.close();
        resolveDone(events);
      }
    });
  }
  return f;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]);
}

async function createRun(input: unknown, key = admin.key): Promise<RunBody> {
  const res = await clientFor(t.url, key).call<RunBody>('POST', '/v1/runs', { body: { agent: 'echo', input } });
  expect(res.status).toBe(201);
  return res.body;
}

function expectComplete(events: RunEvent[], total: number): void {
  expect(events.map((e) => e.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  expect(new Set(events.map((e) => e.id)).size).toBe(total);
  expect(events.at(-1)!.type).toBe('run.completed');
  expect(events.filter((e) => e.type === 'run.completed')).toHaveLength(1);
}

// 200 deltas, plus run.queued, run.started, run.usage and run.completed.
const DELTAS = 200;
const TOTAL = DELTAS + 4;

describe('runs: following events with EventSource', () => {
  it('resumes with Last-Event-ID after the connection is cut mid-run and receives every event once, in order', { timeout: 60_000 }, async () => {
    const proxy = new CuttingProxy(Number(new URL(t.url).port));
    await proxy.start();
    try {
      const run = await createRun({ events: DELTAS, delay_ms: 4_000 });
      const f = follow(`http://127.0.0.1:${proxy.port}/v1/runs/${run.id}/events`, admin.key);

      await within(f.count(40), 20_000, '40 events');
      expect(proxy.cutUpstream()).toBe(1);
      const beforeFirstCut = f.events.length;
      await within(f.count(beforeFirstCut + 60), 20_000, 'events after the first reconnection');
      expect(proxy.cutUpstream()).toBe(1);
      const beforeSecondCut = f.events.length;

      const events = await within(f.done, 30_000, 'run.completed');
      expectComplete(events, TOTAL);
      expect(f.lastEventIds).toEqual(events.map((e) => String(e.seq)));
      expect(events.filter((e) => e.type === 'run.output.delta').map((e) => e.data.delta)).toEqual(
        Array.from({ length: DELTAS }, (_, i) => `chunk ${i + 1}`),
      );
      expect(events.at(-1)!.data).toMatchObject({ status: 'succeeded', error: null });

      // Three connections: the first without Last-Event-ID, then each reconnection resumes after the last event seen.
      expect(proxy.connections).toHaveLength(3);
      expect(f.opens).toBe(3);
      const sent = proxy.lastEventIds();
      expect(sent[0]).toBeUndefined();
      expect(Number(sent[1])).toBeGreaterThanOrEqual(beforeFirstCut);
      expect(Number(sent[2])).toBeGreaterThanOrEqual(beforeSecondCut);
      // Cutting the stream did not stop the run.
      const final = await waitForRun(api, run.id);
      expect(final.status).toBe('succeeded');
      expect(final.output).toEqual({ events: DELTAS, delay_ms: 4_000 });
    } finally {
      await proxy.close();
    }
  });

  it('resumes from ?after= and lets Last-Event-ID win over it', { timeout: 30_000 }, async () => {
    const run = await createRun({ events: 20, delay_ms: 200 });
    await waitForRun(api, run.id);
    const f = follow(`${t.url}/v1/runs/${run.id}/events?after=10`, admin.key);
    const events = await within(f.done, 10_000, 'run.completed');
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 24 - 10 }, (_, i) => i + 11));

    // Both given: the header wins.
    const res = await api.call('GET', `/v1/runs/${run.id}/events?after=3`, {
      headers: { accept: 'text/event-stream', 'last-event-id': '20' },
      stream: true,
      signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^text\/event-stream/);
    const frames = parseSse(await new Response(res.stream).text()).filter((fr) => fr.data !== undefined);
    expect(frames.map((fr) => fr.id)).toEqual(['21', '22', '23', '24']);

    // A Last-Event-ID that is not a seq is a bad request, not a stream from the start.
    const bad = await api.call('GET', `/v1/runs/${run.id}/events`, { headers: { accept: 'text/event-stream', 'last-event-id': 'evt_nope' } });
    expect(bad.status).toBe(400);
  });

  it('ends a stream resumed after run.completed by itself, so a reconnecting client is not held open', { timeout: 30_000 }, async () => {
    // EventSource reconnects by itself when the server closes the stream; a client that did not stop at run.completed
    // comes back with Last-Event-ID = the seq of run.completed. Nothing can follow it: the answer must end now rather
    // than send heartbeats forever.
    const run = await createRun({ n: 'finished' });
    await waitForRun(api, run.id);
    const last = (await replayEvents(api, run.id)).at(-1)!;
    expect(last.type).toBe('run.completed');
    // A stream held open sends a heartbeat every 200 ms and never ends by itself: only this abort would end it.
    const res = await api.call('GET', `/v1/runs/${run.id}/events`, {
      headers: { accept: 'text/event-stream', 'last-event-id': String(last.seq) },
      stream: true,
      signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(200);
    const text = await new Response(res.stream).text().catch((err: unknown) => `(not ended: ${String(err)})`);
    expect(text).not.toMatch(/^\(not ended/);
    expect(parseSse(text).filter((fr) => fr.data !== undefined)).toEqual([]);
  });

  it('sends heartbeat comments on a quiet stream and closes it after run.completed', { timeout: 30_000 }, async () => {
    const run = await createRun({ delay_ms: 1_500 });
    const res = await api.call('GET', `/v1/runs/${run.id}/events`, {
      headers: { accept: 'text/event-stream' },
      stream: true,
      signal: AbortSignal.timeout(15_000),
    });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toContain('no-cache');
    expect(res.headers['x-request-id']).toBeTruthy();
    // Reading to the end terminates because the server closes the stream after run.completed.
    const frames = parseSse(await new Response(res.stream).text());
    const kinds = frames.map((fr) => (fr.data !== undefined ? fr.event : fr.comments.length > 0 ? `:${fr.comments[0]!.trim()}` : 'other'));
    const started = kinds.indexOf('run.started');
    const delta = kinds.indexOf('run.output.delta');
    expect(started).toBeGreaterThanOrEqual(0);
    expect(delta).toBeGreaterThan(started);
    // 1.5 s of silence with a heartbeat every 200 ms: several keep-alive comments in between (at least 3 allows for
    // a loaded machine).
    const quiet = kinds.slice(started + 1, delta).filter((k) => k === ':keep-alive');
    expect(quiet.length).toBeGreaterThanOrEqual(3);
    expect(kinds.filter((k) => k !== ':keep-alive' && k !== 'other')).toEqual([
      'run.queued',
      'run.started',
      'run.output.delta',
      'run.usage',
      'run.completed',
    ]);
  });

  it("answers 404 for another tenant's run, to EventSource and to a plain request", { timeout: 30_000 }, async () => {
    const run = await createRun({ delay_ms: 100 });
    const plain = await clientFor(t.url, other.key).call('GET', `/v1/runs/${run.id}/events`, { headers: { accept: 'text/event-stream' } });
    expect(plain.status).toBe(404);
    expect(plain.body).toMatchObject({ status: 404, code: 'not_found' });

    const requests: string[] = [];
    const f = follow(`${t.url}/v1/runs/${run.id}/events`, other.key, requests);
    await within(
      new Promise<void>((resolve) => f.es.addEventListener('error', () => resolve())),
      10_000,
      'the error event',
    );
    expect(f.errors[0]!.code).toBe(404);
    expect(f.es.readyState).toBe(EventSource.CLOSED);
    await sleep(1_500); // longer than the retry interval: EventSource must not try again after a 404
    expect(requests).toHaveLength(1);
    expect(f.events).toEqual([]);
  });

  it('does not pile up listeners while following a long run', { timeout: 30_000 }, async () => {
    // Each wake-up of the stream loop must not add another 'abort' listener to the request's signal: Node warns
    // (MaxListenersExceededWarning) past 10, and the listeners live as long as the stream.
    const warnings: string[] = [];
    const onWarning = (w: Error) => {
      if (w.name === 'MaxListenersExceededWarning') warnings.push(w.message);
    };
    process.on('warning', onWarning);
    try {
      const run = await createRun({ events: 40, delay_ms: 800 });
      const res = await api.call('GET', `/v1/runs/${run.id}/events`, {
        headers: { accept: 'text/event-stream' },
        stream: true,
        signal: AbortSignal.timeout(15_000),
      });
      expect(res.status).toBe(200);
      const frames = parseSse(await new Response(res.stream).text()).filter((fr) => fr.data !== undefined);
      expect(frames).toHaveLength(44);
      await sleep(50); // warnings are emitted on a later tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('does not cancel a run whose client disconnects', { timeout: 30_000 }, async () => {
    const input = { events: 30, delay_ms: 1_500, message: 'keep going' };
    const run = await createRun(input);
    const f = follow(`${t.url}/v1/runs/${run.id}/events`, admin.key);
    await within(f.count(5), 10_000, '5 events');
    f.es.close();
    const seen = f.events.length;
    expect(seen).toBeLessThan(34);
    const final = await waitForRun(api, run.id);
    expect(final.status).toBe('succeeded');
    expect(final.output).toEqual(input);
    expectComplete(await replayEvents(api, run.id), 34);
  });
});

describe('runs: the JSON list form of the events', () => {
  it('pages through the events with limit and cursor, with the same events the stream carries', { timeout: 30_000 }, async () => {
    const run = await createRun({ events: DELTAS, delay_ms: 0, message: 'list me' });
    await waitForRun(api, run.id);
    const streamed = await replayEvents(api, run.id);
    expectComplete(streamed, TOTAL);

    const pages: RunEvent[][] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res: { status: number; body: { data: RunEvent[]; next_cursor: string | null } } = await api.call('GET', `/v1/runs/${run.id}/events${query}`, {
        headers: { accept: 'application/json' },
      });
      expect(res.status).toBe(200);
      pages.push(res.body.data);
      cursor = res.body.next_cursor;
    } while (cursor && pages.length < 20);
    expect(pages.map((p) => p.length)).toEqual([50, 50, 50, 50, 4]);
    // The list carries the very same events as the stream, payloads included.
    expect(pages.flat()).toEqual(streamed);
    expect(await allEvents(api, run.id)).toEqual(streamed);

    const after = await api.call('GET', `/v1/runs/${run.id}/events?after=200`, { headers: { accept: 'application/json' } });
    expect(after.status).toBe(200);
    expect(after.body.data.map((e: RunEvent) => e.seq)).toEqual([201, 202, 203, 204]);
    expect(after.body.next_cursor).toBeNull();

    const bad = await api.call('GET', `/v1/runs/${run.id}/events?cursor=not-a-cursor`, { headers: { accept: 'application/json' } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_cursor');

    const foreign = await clientFor(t.url, other.key).call('GET', `/v1/runs/${run.id}/events`, { headers: { accept: 'application/json' } });
    expect(foreign.status).toBe(404);
  });

  it('lists what is stored so far while the run is still going', { timeout: 30_000 }, async () => {
    const run = await createRun({ events: 10, delay_ms: 2_000 });
    await pollRun(api, run.id, (r) => r.status === 'running');
    const res = await api.call('GET', `/v1/runs/${run.id}/events?limit=100`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    expect(res.body.data.length).toBeGreaterThanOrEqual(2);
    expect(res.body.data.length).toBeLessThan(14);
    expect(res.body.data.slice(0, 2).map((e: RunEvent) => [e.type, e.data])).toEqual([
      ['run.queued', { attempt: 1 }],
      ['run.started', { attempt: 1 }],
    ]);
    await waitForRun(api, run.id);
  });
});
