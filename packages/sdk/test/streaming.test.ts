// runs.stream(): SSE decoded with eventsource-parser, resumed with Last-Event-ID after a cut or a silent connection,
// bounded reconnects, typed events; runs.wait() and createAndWait() long polls.
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  APIConnectionError,
  APIResponseParseError,
  APIUserAbortError,
  GenericCorp,
  NotFoundError,
  RunWaitTimeoutError,
  type RunEvent,
} from '../src/index.js';
import {
  contractClient,
  problem,
  PROBLEM_HEADERS,
  RUN_ID,
  sendExample,
  sseEvent,
  startMockHub,
  startRawServer,
  STREAM_HEADERS,
  TEST_KEY,
  type Handler,
  type RawServer,
  type TestClient,
} from './helpers/contract.js';

let server: RawServer | undefined;
let t: TestClient | undefined;

afterEach(async () => {
  t?.recorder.assertContract();
  await t?.close();
  await server?.close();
  t = undefined;
  server = undefined;
});

async function clientFor(handler: Handler): Promise<GenericCorp> {
  server = await startRawServer(handler);
  t = contractClient({ baseUrl: server.url });
  return t.client;
}

const EVENTS = [
  sseEvent(1, 'run.queued', { attempt: 1 }),
  sseEvent(2, 'run.started', { attempt: 1 }),
  sseEvent(3, 'run.log', { level: 'info', message: 'echoing' }),
  sseEvent(4, 'run.output.delta', { delta: { message: 'hi' } }),
  sseEvent(5, 'run.usage', { input_tokens: 0, output_tokens: 0, run_seconds: 0.4 }),
  sseEvent(6, 'run.completed', { status: 'succeeded', output: { message: 'hi' }, error: null }),
];

/** Writes the events after the request's Last-Event-ID (as the hub does), from `from` on, then whatever `end` says. */
function writeFrom(res: ServerResponse, lastEventId: string | string[] | undefined, frames: string[], end: 'close' | 'hang' | 'reset') {
  const after = Number(lastEventId ?? 0);
  res.writeHead(200, STREAM_HEADERS);
  for (const frame of frames) if (Number(/^id: (\d+)/.exec(frame)?.[1]) > after) res.write(frame);
  if (end === 'close') res.end();
  if (end === 'reset') setTimeout(() => res.socket?.destroy(), 20);
}

async function collect(stream: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe('runs.stream', () => {
  it('decodes every event, typed by its type, and ends after run.completed', async () => {
    const gc = await clientFor((req, res) => writeFrom(res, req.headers['last-event-id'], EVENTS, 'hang'));
    const events = await collect(gc.runs.stream(RUN_ID));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    const log = events[2]!;
    if (log.type !== 'run.log') throw new Error('expected run.log');
    expect(log.data.message).toBe('echoing');
    const done = events[5]!;
    if (done.type !== 'run.completed') throw new Error('expected run.completed');
    expect(done.data.output).toEqual({ message: 'hi' });
    const request = server!.requests[0]!;
    expect(request.url).toBe(`/v1/runs/${RUN_ID}/events`);
    expect(request.headers.accept).toBe('text/event-stream');
    expect(request.headers['last-event-id']).toBeUndefined();
    expect(request.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
  });

  it('a stream cut mid-run resumes with Last-Event-ID, losing and repeating nothing', async () => {
    let connections = 0;
    const gc = await clientFor((req, res) => {
      connections += 1;
      if (connections === 1) writeFrom(res, req.headers['last-event-id'], EVENTS.slice(0, 3), 'reset');
      else if (connections === 2) writeFrom(res, req.headers['last-event-id'], EVENTS.slice(0, 4), 'close');
      else writeFrom(res, req.headers['last-event-id'], EVENTS, 'hang');
    });
    const stream = gc.runs.stream(RUN_ID);
    const events = await collect(stream);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(server!.requests.map((r) => r.headers['last-event-id'])).toEqual([undefined, '3', '4']);
    expect(stream.lastEventId).toBe('6');
  });

  it('events a server replays after a reconnect are not delivered twice', async () => {
    let connections = 0;
    const gc = await clientFor((req, res) => {
      connections += 1;
      // This server ignores Last-Event-ID and always starts over.
      writeFrom(res, undefined, connections === 1 ? EVENTS.slice(0, 2) : EVENTS, connections === 1 ? 'close' : 'hang');
    });
    const events = await collect(gc.runs.stream(RUN_ID));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a silent connection (no event, no keep-alive) is detected and resumed', async () => {
    let connections = 0;
    const gc = await clientFor((req, res) => {
      connections += 1;
      writeFrom(res, req.headers['last-event-id'], connections === 1 ? EVENTS.slice(0, 2) : EVENTS, 'hang');
    });
    const started = Date.now();
    const events = await collect(gc.runs.stream(RUN_ID, { idleTimeoutMs: 300 }));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(server!.requests.map((r) => r.headers['last-event-id'])).toEqual([undefined, '2']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('keep-alive comments keep a quiet stream open', async () => {
    const gc = await clientFor((req, res) => {
      res.writeHead(200, STREAM_HEADERS);
      res.write(EVENTS[0]);
      let beats = 0;
      const timer = setInterval(() => {
        res.write(': keep-alive\n\n');
        if (++beats === 5) {
          clearInterval(timer);
          for (const frame of EVENTS.slice(1)) res.write(frame);
        }
      }, 100);
      res.on('close', () => clearInterval(timer));
    });
    const events = await collect(gc.runs.stream(RUN_ID, { idleTimeoutMs: 250 }));
    expect(events).toHaveLength(6);
    expect(server!.requests).toHaveLength(1);
  });

  it('gives up after maxReconnects drops in a row', async () => {
    const gc = await clientFor((req, res) => {
      res.writeHead(200, STREAM_HEADERS);
      res.end('retry: 10\n\n'); // the server's reconnection delay, which the stream honours
    });
    const error = await collect(gc.runs.stream(RUN_ID, { maxReconnects: 2 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionError);
    expect((error as Error).message).toBe(
      `The run ${RUN_ID} events stream dropped 3 times in a row; last: The run ${RUN_ID} events stream ended before its final event.`,
    );
    expect(server!.requests).toHaveLength(3);
  });

  it('resumes from a lastEventId given by the caller', async () => {
    const gc = await clientFor((req, res) => writeFrom(res, req.headers['last-event-id'], EVENTS, 'hang'));
    const events = await collect(gc.runs.stream(RUN_ID, { lastEventId: 4 }));
    expect(events.map((e) => e.seq)).toEqual([5, 6]);
    expect(server!.requests[0]?.headers['last-event-id']).toBe('4');
  });

  it('an unknown run is a NotFoundError, not a reconnect loop', async () => {
    const gc = await clientFor((req, res) => {
      res.writeHead(404, PROBLEM_HEADERS);
      res.end(JSON.stringify(problem(404, 'not_found', `No run ${RUN_ID}.`)));
    });
    await expect(collect(gc.runs.stream(RUN_ID))).rejects.toBeInstanceOf(NotFoundError);
    expect(server!.requests).toHaveLength(1);
  });

  it('breaking out of the loop closes the connection', async () => {
    let closed = false;
    const gc = await clientFor((req, res) => {
      res.on('close', () => (closed = true));
      writeFrom(res, undefined, EVENTS.slice(0, 3), 'hang');
    });
    for await (const event of gc.runs.stream(RUN_ID)) if (event.seq === 2) break;
    await expect.poll(() => closed).toBe(true);
  });

  it('an AbortSignal ends the iteration with APIUserAbortError', async () => {
    const gc = await clientFor((req, res) => writeFrom(res, undefined, EVENTS.slice(0, 2), 'hang'));
    const controller = new AbortController();
    const seen: number[] = [];
    const error = await (async () => {
      for await (const event of gc.runs.stream(RUN_ID, { signal: controller.signal })) {
        seen.push(event.seq);
        if (event.seq === 2) setTimeout(() => controller.abort(), 20);
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIUserAbortError);
    expect(seen).toEqual([1, 2]);
  });
});

describe('runs.stream against servers off the contract', () => {
  // These responses break the contract on purpose, so the client does not check them.
  async function unchecked(handler: Handler) {
    server = await startRawServer(handler);
    return new GenericCorp({ baseUrl: server.url, apiKey: TEST_KEY, logLevel: 'off', maxRetries: 0 });
  }

  it('skips event types newer than this SDK and still ends at run.completed', async () => {
    const gc = await unchecked((req, res) =>
      writeFrom(res, undefined, [EVENTS[0]!, sseEvent(2, 'run.checkpoint', { at: 1 }), ...EVENTS.slice(2)], 'hang'),
    );
    const events = await collect(gc.runs.stream(RUN_ID));
    expect(events.map((e) => e.type)).toEqual(['run.queued', 'run.log', 'run.output.delta', 'run.usage', 'run.completed']);
    await gc.close();
  });

  it('a JSON answer instead of an event stream is an APIResponseParseError', async () => {
    const gc = await unchecked((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"data":[],"next_cursor":null}');
    });
    const error = await collect(gc.runs.stream(RUN_ID)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIResponseParseError);
    expect((error as Error).message).toMatch(/^runs\.stream: expected an event stream \(text\/event-stream\), got 200 application\/json/);
    await gc.close();
  });

  it('an event that is not JSON is an APIResponseParseError', async () => {
    const gc = await unchecked((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('id: 1\nevent: run.queued\ndata: {not json\n\n');
    });
    const error = await collect(gc.runs.stream(RUN_ID)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIResponseParseError);
    expect((error as Error).message).toBe(`runs.stream: event 1 of run ${RUN_ID} is not JSON: {not json`);
    await gc.close();
  });
});

describe('the stream of the spec example from the msw handlers', () => {
  it('decodes the example frames of listRunEvents', async () => {
    const hub = await startMockHub();
    t = contractClient({ baseUrl: hub.url });
    try {
      const events = await collect(t.client.runs.stream(RUN_ID));
      expect(events.map((e) => e.type)).toEqual(['run.queued', 'run.started', 'run.output.delta', 'run.completed']);
    } finally {
      await hub.close();
    }
  });
});

describe('runs.wait and runs.createAndWait', () => {
  function waitServer(notYet: number): Handler {
    let polls = 0;
    return (req, res) => {
      if (req.method === 'GET' && req.url?.startsWith(`/v1/runs/${RUN_ID}/wait`)) {
        polls += 1;
        if (polls <= notYet) return void setTimeout(() => sendExample(req, res, { status: 202 }), 100);
      }
      sendExample(req, res);
    };
  }

  it('long-polls through 202 until the run is terminal', async () => {
    const gc = await clientFor(waitServer(2));
    const { data, response } = await gc.runs.wait(RUN_ID).withResponse();
    expect(data.status).toBe('succeeded');
    expect(response.status).toBe(200);
    expect(server!.requests.map((r) => r.url)).toEqual(Array(3).fill(`/v1/runs/${RUN_ID}/wait?timeout=60`));
  });

  it('asks the server to wait no longer than what is left of timeoutMs', async () => {
    const gc = await clientFor(waitServer(0));
    await gc.runs.wait(RUN_ID, { timeoutMs: 4_500 });
    expect(server!.requests[0]?.url).toBe(`/v1/runs/${RUN_ID}/wait?timeout=5`);
  });

  it('gives up with RunWaitTimeoutError carrying the run as last seen', async () => {
    const gc = await clientFor(waitServer(Number.POSITIVE_INFINITY));
    const error = await gc.runs.wait(RUN_ID, { timeoutMs: 350 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunWaitTimeoutError);
    expect((error as RunWaitTimeoutError).run.status).toBe('running');
    expect((error as Error).message).toBe(`Run ${RUN_ID} is still running after 350 ms.`);
  });

  it('createAndWait creates once (with an Idempotency-Key) and waits', async () => {
    const gc = await clientFor(waitServer(1));
    const run = await gc.runs.createAndWait({ agent: 'echo', input: { message: 'hi' } }, { idempotencyKey: 'k-1' });
    expect(run.status).toBe('succeeded');
    expect(server!.requests.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual([
      'POST /v1/runs',
      `GET /v1/runs/${RUN_ID}/wait`,
      `GET /v1/runs/${RUN_ID}/wait`,
    ]);
    expect(server!.requests[0]?.headers['idempotency-key']).toBe('k-1');
  });
});
