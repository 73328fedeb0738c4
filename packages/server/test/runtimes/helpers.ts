// Test helpers for the runtimes: a run context that records events, and real HTTP servers on loopback addresses.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentDefinition, EmittedEvent, RunContext } from '../../src/runtimes/index.js';

export interface TestContext extends RunContext {
  events: EmittedEvent[];
  controller: AbortController;
  /** Resolves when `n` events of `type` have been emitted. */
  waitForEvents(type: EmittedEvent['type'], n: number): Promise<void>;
}

export function makeContext(agent: AgentDefinition, input: unknown, overrides: Partial<RunContext> = {}): TestContext {
  const controller = new AbortController();
  const events: EmittedEvent[] = [];
  const waiters: Array<{ type: EmittedEvent['type']; n: number; resolve: () => void }> = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (events.filter((e) => e.type === w.type).length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const quiet = () => undefined;
  return {
    runId: 'run_01jdz7r8s9t0v1w2x3y4z5a6b7',
    tenantId: 'ten_01jdz7r8s9t0v1w2x3y4z5a6b7',
    attempt: 1,
    agent,
    input,
    metadata: { source: 'test' },
    signal: controller.signal,
    controller,
    events,
    async emit(e: EmittedEvent) {
      events.push(e);
      check();
    },
    waitForEvents(type, n) {
      return new Promise<void>((resolve) => {
        waiters.push({ type, n, resolve });
        check();
      });
    },
    log: { info: quiet, warn: quiet, error: quiet },
    ...overrides,
  };
}

export function deltas(events: EmittedEvent[]): unknown[] {
  return events.filter((e) => e.type === 'run.output.delta').map((e) => (e.data as { delta: unknown }).delta);
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface TestServer {
  server: Server;
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Resolves when a request's connection has closed (set by servers that hold responses open). */
  closed: Promise<void>;
  close(): Promise<void>;
}

/**
 * A real HTTP server on `host` (loopback). The handler gets the request with its body already read; `requests` keeps
 * every request seen.
 */
export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse, body: string, index: number) => void | Promise<void>,
  host = '127.0.0.1',
): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.on('close', () => markClosed());
      Promise.resolve(handler(req, res, body, requests.length - 1)).catch((err: unknown) => {
        res.destroy(err as Error);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `http://${host}:${port}`,
    requests,
    closed,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Rejects after `ms`: keeps each awaited step of a test bounded. */
export function within<T>(promise: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]);
}

/** The rejection of a promise (fails when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}
