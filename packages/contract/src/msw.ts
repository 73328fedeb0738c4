// Mock handlers built from openapi.yaml (every operation answers its example), and a loopback server for them.
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createMswExpressApp } from '@mswjs/http-middleware';
import type { RequestHandler } from 'msw';
import { createOpenApiHttp, type ResponseResolverInfo } from 'openapi-msw';
import { exampleResponse, type ExampleResponse, type ExampleResponseOptions } from './examples.js';
import { compareTemplateSpecificity, listOperations, type OperationInfo } from './operations.js';
import type { OpenApiDocument } from './spec.js';
import { isJsonMediaType } from './validators.js';

type MswMethod = 'get' | 'put' | 'post' | 'delete' | 'options' | 'head' | 'patch';

/**
 * openapi-msw is typed by openapi-typescript's `paths`; this package reads the spec at runtime, so every path is a
 * plain string and every operation has the loose shape below.
 */
interface UntypedOperation {
  parameters: { path: Record<string, string>; query: Record<string, string> };
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { content: Record<string, unknown> }>;
}
type UntypedPaths = Record<string, Record<MswMethod, UntypedOperation>>;

/** openapi-msw's resolver info (request, params, query, response helper) plus the operation and its example. */
export type SpecResolverInfo = ResponseResolverInfo<UntypedPaths, string, MswMethod> & {
  operation: OperationInfo;
  /** The response the default handler would send (the example), for overrides that only tweak it. */
  exampleResponse(options?: ExampleResponseOptions): Response;
};

export type SpecResolver = (info: SpecResolverInfo) => Response | Promise<Response>;

export interface SpecHandlersOptions {
  /**
   * Prefixed to every path, e.g. `http://127.0.0.1:4100`. Leave it out when serving with `serveHandlers`: paths then
   * resolve against whatever origin the loopback server listens on.
   */
  baseUrl?: string;
  /** Replaces the handler of an operation (auth check included), keyed by operationId. */
  overrides?: Record<string, SpecResolver>;
}

function toResponse(example: ExampleResponse, requestId: string | null): Response {
  const headers = new Headers(example.headers);
  if (requestId) headers.set('X-Request-Id', requestId);
  let body: string | null = null;
  if (example.contentType !== undefined && example.status !== 204 && example.status !== 304) {
    headers.set('Content-Type', example.contentType);
    body = isJsonMediaType(example.contentType) ? JSON.stringify(example.body ?? null) : String(example.body ?? '');
  }
  return new Response(body, { status: example.status, headers });
}

/** A valid incoming X-Request-Id is echoed, as the hub does. */
function incomingRequestId(request: Request): string | null {
  const value = request.headers.get('x-request-id');
  return value && /^[A-Za-z0-9._:-]{1,200}$/.test(value) ? value : null;
}

function hasBearer(request: Request): boolean {
  return /^Bearer\s+\S+/i.test(request.headers.get('authorization') ?? '');
}

function unauthorized(spec: OpenApiDocument, operation: OperationInfo, requestId: string | null): Response {
  const responses = operation.operation.responses ?? {};
  const status = ['401', '4XX', '4xx', 'default'].find((key) => Object.hasOwn(responses, key));
  const example: ExampleResponse = status
    ? exampleResponse(spec, operation, { status: 401, accept: 'application/problem+json' })
    : {
        status: 401,
        contentType: 'application/problem+json',
        headers: { 'X-Request-Id': 'req_mock' },
        body: {
          type: 'https://docs.genericcorp.dev/problems/unauthorized',
          title: 'Unauthorized',
          status: 401,
          detail: 'Send an API key or access token as `Authorization: Bearer <token>`.',
          code: 'unauthorized',
          request_id: 'req_mock',
        },
      };
  const response = toResponse(example, requestId);
  response.headers.set('WWW-Authenticate', 'Bearer');
  return response;
}

/**
 * One msw handler per operation of the spec. Each answers the first 2xx response's example (or a value synthesized
 * from its schema) with the declared content type (negotiated with Accept) and an X-Request-Id; operations that need
 * credentials answer their 401 problem when no `Authorization: Bearer …` header comes with the request.
 */
export function createSpecHandlers(spec: OpenApiDocument, options: SpecHandlersOptions = {}): RequestHandler[] {
  const http = createOpenApiHttp<UntypedPaths>(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl.replace(/\/+$/, '') });
  const operations = listOperations(spec);
  const overrides = options.overrides ?? {};
  const known = new Set(operations.map((operation) => operation.operationId));
  for (const operationId of Object.keys(overrides)) {
    if (!known.has(operationId)) throw new Error(`override for ${operationId}: the spec has no such operation`);
  }

  // msw tries handlers in order: literal paths (`/v1/agents/catalog`) must come before templated ones (`/v1/agents/{id}`).
  const ordered = [...operations].sort((a, b) => compareTemplateSpecificity(a.path, b.path));
  return ordered.map((operation) => {
    if (operation.method === 'trace') throw new Error(`${operation.operationId}: msw has no TRACE handlers`);
    const override = overrides[operation.operationId];
    const method: MswMethod = operation.method;
    return http[method](operation.path, async (info) => {
      const requestId = incomingRequestId(info.request);
      const example = (exampleOptions: ExampleResponseOptions = {}) =>
        toResponse(
          exampleResponse(spec, operation, { accept: info.request.headers.get('accept') ?? undefined, ...exampleOptions }),
          requestId,
        );
      if (override) return info.response.untyped(await override({ ...info, operation, exampleResponse: example }));
      if (!operation.isPublic && !hasBearer(info.request)) {
        return info.response.untyped(unauthorized(spec, operation, requestId));
      }
      return info.response.untyped(example());
    });
  });
}

export interface ServeHandlersOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
}

export interface ServedHandlers {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves msw handlers on a real loopback HTTP server, so clients in other processes or on undici reach them
 * (msw's in-process interception does not see requests made through the undici package on Node 20).
 */
export async function serveHandlers(handlers: RequestHandler[], options: ServeHandlersOptions = {}): Promise<ServedHandlers> {
  const host = options.host ?? '127.0.0.1';
  // @mswjs/http-middleware is CommonJS and types its parameter with msw's CommonJS declarations, while these handlers
  // come from msw's ESM build: the same class declared twice, which TypeScript treats as unrelated. Same runtime shape.
  const mswHandlers = handlers as unknown as Parameters<typeof createMswExpressApp>;
  // It returns an express app, which is a plain (req, res) listener.
  const app: RequestListener = createMswExpressApp(...mswHandlers);
  const server = createHttpServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets (undici pools them) would hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
}
