// The hub as openapi.yaml describes it: msw handlers built from the spec (each operation answers its example),
// served on loopback for gcorp child processes, with per-test overrides and a log of the requests received.
import { loadSpec } from '@genericcorp/contract';
import { createSpecHandlers, serveHandlers, type SpecResolver } from '@genericcorp/contract/msw';
import { http } from 'msw';

export const spec = loadSpec();

/** A key shaped like the hub's (the mock only checks that some bearer token is there). */
export const TEST_KEY = 'gc_live_key_01jdz4c6d8e0f2g4h6j8k0m2n4_Mx4qT8bV2nL6wR0sK3yP9cJ5dF1gH7zA';
export const RUN_ID = 'run_01jdz7r8s9t0v1w2x3y4z5a6b7';
export const KEY_ID = 'key_01jdz3k9n4p6q8r0s2t4v6w8x0';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: string;
}

export interface MockHub {
  url: string;
  requests: RecordedRequest[];
  /** Requests to one path (without the query string). */
  requestsTo(method: string, path: string): RecordedRequest[];
  close(): Promise<void>;
}

export type { SpecResolver };

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

export async function startMockHub(overrides: Record<string, SpecResolver> = {}): Promise<MockHub> {
  const requests: RecordedRequest[] = [];
  overrides = { ...Object.fromEntries(PAGED_EXAMPLES.map((id) => [id, lastPageForCursor()])), ...overrides };
  // Runs first for every request and answers nothing, so the spec's handler (or an override) answers.
  const recorder = http.all('*', async ({ request }) => {
    const url = new URL(request.url);
    requests.push({ method: request.method, path: url.pathname, query: url.searchParams, headers: request.headers, body: await request.clone().text() });
  });
  const served = await serveHandlers([recorder, ...createSpecHandlers(spec, { overrides })]);
  return {
    url: served.url,
    requests,
    requestsTo: (method, path) => requests.filter((r) => r.method === method && r.path === path),
    close: () => served.close(),
  };
}

/** A problem+json response, as the hub sends errors. */
export function problem(status: number, code: string, title: string, detail: string, headers: Record<string, string> = {}): Response {
  return new Response(
    JSON.stringify({ type: `https://docs.genericcorp.dev/problems/${code}`, title, status, detail, code, request_id: 'req_test_123' }),
    { status, headers: { 'content-type': 'application/problem+json', 'x-request-id': 'req_test_123', ...headers } },
  );
}
