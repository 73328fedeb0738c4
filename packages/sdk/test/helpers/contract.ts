// Test servers speaking openapi.yaml (msw handlers from the spec, or hand-made loopback servers for faults) and SDK
// clients whose every response is checked against the spec on its way in.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ContractViolationError, createValidators, exampleResponse, loadSpec, type ExampleResponseOptions } from '@genericcorp/contract';
import { createSpecHandlers, serveHandlers, type SpecResolver } from '@genericcorp/contract/msw';
import { createParser } from 'eventsource-parser';
import { Agent, type Dispatcher } from 'undici';
import { GenericCorp, type ClientOptions } from '../../src/index.js';

export const spec = loadSpec();
export const validators = createValidators(spec);
const validateRunEvent = validators.compileSchema('#/components/schemas/RunEvent');

/** A key shaped like the hub's (the mock handlers only check that some bearer token is present). */
export const TEST_KEY = 'gc_live_key_01jdz4c6d8e0f2g4h6j8k0m2n4_Mx4qT8bV2nL6wR0sK3yP9cJ5dF1gH7zA';
export const RUN_ID = 'run_01jdz7r8s9t0v1w2x3y4z5a6b7';

export interface ExchangeRecord {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string>;
  requestHeaders: Record<string, string>;
}

/**
 * Checks every response against openapi.yaml: status declared, required headers, content type, body schema; for an
 * event stream, every event's JSON against the RunEvent schema. Mismatches are collected (throwing inside undici would
 * turn them into connection errors the SDK retries) and asserted empty by `assertContract()`.
 */
export class ContractRecorder {
  readonly violations: string[] = [];
  readonly exchanges: ExchangeRecord[] = [];

  interceptor(): Dispatcher.DispatcherComposeInterceptor {
    return (dispatch) => (options, handler) => {
      const method = String(options.method);
      const path = options.path;
      const requestHeaders = headerRecord(options.headers);
      const chunks: Buffer[] = [];
      let status = 0;
      let headers: Record<string, string> = {};
      const record = (complete: boolean) => {
        this.exchanges.push({ method, path, status, headers, requestHeaders });
        this.#validate(method, path, status, headers, Buffer.concat(chunks).toString('utf8'), complete);
      };
      const wrapped: Dispatcher.DispatchHandler = {
        onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
        onRequestUpgrade: (controller, statusCode, upgradeHeaders, socket) =>
          handler.onRequestUpgrade?.(controller, statusCode, upgradeHeaders, socket),
        onResponseStart: (controller, statusCode, responseHeaders, statusMessage) => {
          status = statusCode;
          headers = headerRecord(responseHeaders);
          return handler.onResponseStart?.(controller, statusCode, responseHeaders, statusMessage);
        },
        onResponseData: (controller, chunk) => {
          chunks.push(Buffer.from(chunk));
          return handler.onResponseData?.(controller, chunk);
        },
        onResponseEnd: (controller, trailers) => {
          record(true);
          return handler.onResponseEnd?.(controller, trailers);
        },
        onResponseError: (controller, error) => {
          // A stream closed by the client (or cut by a fault) still had its status, headers and events checked.
          if (status !== 0) record(false);
          return handler.onResponseError?.(controller, error);
        },
      };
      return dispatch(options, wrapped);
    };
  }

  #validate(method: string, path: string, status: number, headers: Record<string, string>, text: string, complete: boolean): void {
    const contentType = headers['content-type']?.split(';')[0]?.trim();
    const isStream = contentType === 'text/event-stream';
    let body: unknown = text;
    if (!isStream && contentType !== undefined && /json$/.test(contentType) && text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = text; // reported by the validator as invalid JSON
      }
    }
    // A body cut short by a fault or by the client cannot be judged as a whole; status and headers still can.
    try {
      validators.assertResponse({ method, path, status, headers, body: isStream || !complete ? undefined : body });
    } catch (error) {
      if (!(error instanceof ContractViolationError)) throw error;
      // An incomplete body shows up as "missing" only because we did not pass it.
      const errors = complete ? error.errors : error.errors.filter((e) => !/body|content/.test(e));
      if (errors.length > 0) this.violations.push(`${method} ${path} -> ${status}: ${errors.join('; ')}`);
    }
    if (isStream) {
      const parser = createParser({
        onEvent: (message) => {
          let event: unknown;
          try {
            event = JSON.parse(message.data);
          } catch {
            this.violations.push(`${method} ${path}: event ${message.id ?? ''} is not JSON: ${message.data}`);
            return;
          }
          if (!validateRunEvent(event)) {
            this.violations.push(`${method} ${path}: event ${message.id ?? ''} does not match RunEvent: ${JSON.stringify(validateRunEvent.errors)}`);
          } else if (String((event as { seq: number }).seq) !== message.id) {
            this.violations.push(`${method} ${path}: SSE id ${message.id ?? ''} is not the event's seq`);
          }
        },
      });
      parser.feed(text);
    }
  }

  /** Throws when any response so far broke the contract. */
  assertContract(): void {
    if (this.violations.length > 0) {
      throw new Error(`responses that do not match openapi.yaml:\n${this.violations.map((v) => `  - ${v}`).join('\n')}`);
    }
  }
}

function headerRecord(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) out[String(headers[i]).toLowerCase()] = String(headers[i + 1]);
    return out;
  }
  const entries = headers instanceof Headers ? [...headers.entries()] : Object.entries(headers as Record<string, unknown>);
  for (const [name, value] of entries) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

export interface TestClient {
  client: GenericCorp;
  recorder: ContractRecorder;
  close(): Promise<void>;
}

/** A client on its own undici Agent, every response recorded and checked against the spec. */
export function contractClient(options: ClientOptions = {}): TestClient {
  const recorder = new ContractRecorder();
  const agent = new Agent({ keepAliveTimeout: 1_000 });
  const client = new GenericCorp({ apiKey: TEST_KEY, logLevel: 'off', ...options, dispatcher: agent.compose(recorder.interceptor()) });
  return {
    client,
    recorder,
    async close() {
      await agent.close();
    },
  };
}

export interface MockHub {
  url: string;
  close(): Promise<void>;
}

// The example pages of these lists have a next cursor; asked for it, the mock answers the last page (their first item).
const PAGED_EXAMPLES = ['listAgents', 'adminListTenants'];

function lastPageForCursor(): SpecResolver {
  return async ({ request, exampleResponse }) => {
    const example = exampleResponse();
    if (!new URL(request.url).searchParams.has('cursor') || !request.headers.get('authorization')) return example;
    const body = (await example.json()) as { data: unknown[] };
    return Response.json({ data: body.data.slice(0, 1), next_cursor: null }, { headers: example.headers });
  };
}

/**
 * The msw handlers built from openapi.yaml (every operation answers its example), served on loopback. The paged
 * examples end on their second page, so walking every page terminates.
 */
export async function startMockHub(overrides: Record<string, SpecResolver> = {}): Promise<MockHub> {
  const paging = Object.fromEntries(PAGED_EXAMPLES.map((id) => [id, lastPageForCursor()]));
  return serveHandlers(createSpecHandlers(spec, { overrides: { ...paging, ...overrides } }));
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => unknown;

export interface RawServer {
  url: string;
  /** Requests received, in order, with their headers (lower-case names). */
  requests: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
  close(): Promise<void>;
}

/** A plain loopback HTTP server for faults the msw handlers cannot produce (reset sockets, stalls, cut streams). */
export async function startRawServer(handler: Handler): Promise<RawServer> {
  const requests: RawServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body });
      Promise.resolve()
        .then(() => handler(req, res, body))
        .catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Answers with the spec's example response for the request's operation (status chosen by `options`), so hand-made
 * servers stay valid against the spec; `headers` and `body` replace parts of it.
 */
export function sendExample(
  req: IncomingMessage,
  res: ServerResponse,
  options: ExampleResponseOptions & { headers?: Record<string, string>; body?: unknown } = {},
): void {
  const operation = validators.matchOperation(req.method ?? 'GET', req.url ?? '/');
  if (!operation) throw new Error(`no operation of the spec matches ${req.method} ${req.url}`);
  const example = exampleResponse(spec, operation, { accept: req.headers.accept, ...options });
  const body = options.body ?? example.body;
  const headers: Record<string, string> = { ...example.headers, ...options.headers };
  let text = '';
  if (example.contentType !== undefined) {
    headers['content-type'] = example.contentType;
    text = typeof body === 'string' ? body : JSON.stringify(body);
  }
  res.writeHead(example.status, headers);
  res.end(text);
}

/** A problem document valid against the spec. */
export function problem(status: number, code: string, detail = `${code} (test)`, extra: Record<string, unknown> = {}) {
  return {
    type: `https://docs.genericcorp.dev/problems/${code}`,
    title: code.replace(/_/g, ' '),
    status,
    detail,
    code,
    request_id: 'req_test_1',
    ...extra,
  };
}

export const PROBLEM_HEADERS = { 'content-type': 'application/problem+json', 'x-request-id': 'req_test_1' };

/** One SSE frame of a RunEvent valid against the spec. */
export function sseEvent(seq: number, type: string, data: Record<string, unknown>, runId = RUN_ID): string {
  const event = {
    id: `evt_01jdz7r9a1b2c3d4e5f6g7h8${String(seq).padStart(2, '0').replace(/[ilou]/g, '0')}`,
    run_id: runId,
    seq,
    type,
    data,
    created_at: new Date(Date.UTC(2025, 10, 23, 10, 15, 30, seq)).toISOString(),
  };
  return `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export const RUN_HEADERS = {
  'x-request-id': 'req_test_1',
  'ratelimit-policy': '"default";q=600;w=60',
  ratelimit: '"default";r=599;t=60',
};

export const STREAM_HEADERS = { ...RUN_HEADERS, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
