import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ContractViolationError,
  createValidators,
  listOperations,
  loadSpec,
  specPath,
  specText,
  type ResponseToValidate,
} from '../src/index.js';
import { fixtureSpecPath } from './helpers.js';

const spec = loadSpec(fixtureSpecPath);
const validators = createValidators(spec);

const REQUEST_ID = { 'x-request-id': 'req_1' };
const RATE_LIMIT = { 'ratelimit-policy': '"default";q=600;w=60', ratelimit: '"default";r=599;t=60' };
const JSON_HEADERS = { ...REQUEST_ID, ...RATE_LIMIT, 'content-type': 'application/json; charset=utf-8' };

const agent = { id: 'agt_01jd0000000000000000000000', name: 'echo', runtime: 'builtin', created_at: '2026-01-01T00:00:00Z' };
const run = {
  id: 'run_01jd0000000000000000000000',
  agent: 'echo',
  status: 'succeeded',
  input: { message: 'hi' },
  output: { message: 'hi' },
  error: null,
  created_at: '2026-01-01T00:00:00Z',
  started_at: '2026-01-01T00:00:01Z',
  finished_at: null,
  usage: { input_tokens: 0, output_tokens: 0, run_seconds: 0.5 },
};
const problem = {
  type: 'https://docs.genericcorp.dev/problems/unauthorized',
  title: 'Unauthorized',
  status: 401,
  code: 'unauthorized',
  request_id: 'req_1',
};

function getRun(overrides: Partial<ResponseToValidate> = {}): ResponseToValidate {
  return { method: 'GET', path: `/v1/runs/${run.id}`, status: 200, headers: JSON_HEADERS, body: run, ...overrides };
}

function errorsOf(input: ResponseToValidate): string[] {
  const result = validators.validateResponse(input);
  return result.ok ? [] : result.errors;
}

describe('loading the spec', () => {
  it('parses once and serves the cached document', () => {
    expect(loadSpec(fixtureSpecPath)).toBe(spec);
    expect(specText(fixtureSpecPath)).toMatch(/^openapi: 3\.1\.0$/m);
  });

  it('points specPath at the repository openapi.yaml when running from source', () => {
    expect(specPath).toMatch(/\/openapi\.yaml$/);
    const repoSpec = fileURLToPath(new URL('../../../openapi.yaml', import.meta.url));
    const packagedSpec = fileURLToPath(new URL('../openapi.yaml', import.meta.url));
    expect([repoSpec, packagedSpec]).toContain(specPath);
  });

  it('refuses a file that is not an OpenAPI document', () => {
    expect(() => loadSpec(fileURLToPath(new URL('./fixtures/not-openapi.yaml', import.meta.url)))).toThrow(/not an OpenAPI document/);
    expect(() => loadSpec(fileURLToPath(new URL('./helpers.ts', import.meta.url)))).toThrow(/helpers\.ts is not valid YAML/);
    expect(() => loadSpec('/nonexistent/openapi.yaml')).toThrow(/cannot read the OpenAPI spec at \/nonexistent\/openapi\.yaml/);
  });
});

describe('listOperations', () => {
  const operations = listOperations(spec);
  const byId = Object.fromEntries(operations.map((operation) => [operation.operationId, operation]));

  it('lists every operation with its Fastify path, scopes and request content types', () => {
    expect(operations.map((operation) => operation.operationId)).toEqual([
      'getHealthz',
      'getMetrics',
      'getDevicePage',
      'exchangeToken',
      'listAgents',
      'createAgent',
      'getAgentCatalog',
      'getAgent',
      'deleteAgent',
      'getRun',
      'listRunEvents',
    ]);
    expect(byId.getAgent).toMatchObject({ method: 'get', path: '/v1/agents/{id}', fastifyPath: '/v1/agents/:id', tags: ['agents'] });
    expect(byId.listRunEvents?.fastifyPath).toBe('/v1/runs/:id/events');
    expect(byId.createAgent).toMatchObject({ scopes: ['agents:write'], isPublic: false, requestContentTypes: ['application/json'] });
    expect(byId.exchangeToken).toMatchObject({ scopes: [], isPublic: true, requestContentTypes: ['application/x-www-form-urlencoded'] });
    expect(byId.getHealthz?.operation.responses?.['200']).toBeDefined();
  });
});

describe('validateResponse', () => {
  it('accepts a body that matches the schema', () => {
    expect(validators.validateResponse(getRun())).toEqual({ ok: true, operationId: 'getRun' });
  });

  it('accepts a JSON body given as text', () => {
    expect(errorsOf(getRun({ body: JSON.stringify(run) }))).toEqual([]);
  });

  it('rejects a field of the wrong type', () => {
    expect(errorsOf(getRun({ body: { ...run, status: 3 } }))).toEqual([
      'body/status must be string',
      'body/status must be one of ["queued","running","succeeded","failed","cancelled","timed_out"]',
    ]);
  });

  it('rejects a missing required field', () => {
    const { usage: _usage, ...withoutUsage } = run;
    expect(errorsOf(getRun({ body: withoutUsage }))).toEqual(['body must have required property "usage"']);
  });

  it('rejects a field the schema does not allow', () => {
    expect(errorsOf({ method: 'GET', path: '/v1/agents/echo', status: 200, headers: JSON_HEADERS, body: { ...agent, secret: 1 } })).toEqual([
      'body must NOT have additional property "secret"',
    ]);
  });

  it('checks formats and patterns', () => {
    expect(errorsOf(getRun({ body: { ...run, id: 'run_UPPER', created_at: 'yesterday' } }))).toEqual([
      'body/id must match pattern "^run_[0-9a-hjkmnp-tv-z]{26}$"',
      'body/created_at must match format "date-time"',
    ]);
  });

  it('rejects a status the operation does not declare', () => {
    expect(errorsOf(getRun({ status: 418 }))).toEqual(['status 418 is not declared (declared: 200, 401, 429)']);
  });

  it('uses the default response for other statuses when there is one', () => {
    const conflict = { ...problem, status: 409, title: 'Conflict', code: 'conflict' };
    const headers = { ...REQUEST_ID, 'content-type': 'application/problem+json' };
    expect(errorsOf({ method: 'POST', path: '/v1/agents', status: 409, headers, body: conflict })).toEqual([]);
  });

  it('rejects a content type the response does not declare', () => {
    expect(errorsOf(getRun({ headers: { ...JSON_HEADERS, 'content-type': 'text/html' } }))).toEqual([
      'content type text/html is not declared for status 200 (declared: application/json)',
    ]);
    const plainJsonProblem = { ...REQUEST_ID, 'content-type': 'application/json' };
    expect(errorsOf(getRun({ status: 401, headers: plainJsonProblem, body: problem }))).toEqual([
      'content type application/json is not declared for status 401 (declared: application/problem+json)',
    ]);
    expect(errorsOf(getRun({ status: 401, headers: { ...REQUEST_ID, 'content-type': 'application/problem+json' }, body: problem }))).toEqual([]);
  });

  it('rejects a body without content type, and a body where none is declared', () => {
    expect(errorsOf(getRun({ headers: REQUEST_ID }))).toEqual(['content-type header missing (declared: application/json)']);
    const deleted = { method: 'DELETE', path: '/v1/agents/echo', status: 204, headers: REQUEST_ID };
    expect(errorsOf({ ...deleted, body: '' })).toEqual([]);
    expect(errorsOf({ ...deleted, headers: { ...REQUEST_ID, 'content-type': 'application/json' }, body: { ok: true } })).toEqual([
      'status 204 declares no body, got application/json',
    ]);
  });

  it('rejects a JSON content type whose body is not JSON', () => {
    expect(errorsOf(getRun({ body: '{"id": ' }))).toEqual(['body is not valid JSON although the content type is application/json']);
  });

  it('requires the headers the spec requires, whatever their case', () => {
    expect(errorsOf(getRun({ headers: { 'content-type': 'application/json' } }))).toEqual(['header X-Request-Id is required but missing']);
    expect(errorsOf(getRun({ headers: { 'X-REQUEST-ID': 'req_1', 'Content-Type': 'application/json' } }))).toEqual([]);
    const agentHeaders = { ...REQUEST_ID, 'content-type': 'application/json' };
    expect(errorsOf({ method: 'GET', path: '/v1/agents/echo', status: 200, headers: agentHeaders, body: agent })).toEqual([
      'header RateLimit-Policy is required but missing',
      'header RateLimit is required but missing',
    ]);
  });

  it('checks header values against their schema', () => {
    const limited = (retryAfter: string) =>
      getRun({ status: 429, headers: { ...REQUEST_ID, 'retry-after': retryAfter, 'content-type': 'application/problem+json' }, body: { ...problem, status: 429 } });
    expect(errorsOf(limited('5'))).toEqual([]);
    expect(errorsOf(limited('soon'))).toEqual(['header Retry-After must be integer']);
    expect(errorsOf(limited('-1'))).toEqual(['header Retry-After must be >= 0']);
  });

  it('checks the content type of an event stream but not its frames', () => {
    const events = { method: 'GET', path: `/v1/runs/${run.id}/events`, status: 200 };
    expect(errorsOf({ ...events, headers: { ...REQUEST_ID, 'content-type': 'text/event-stream' }, body: 'id: 1\n\n' })).toEqual([]);
    expect(errorsOf({ ...events, headers: { ...REQUEST_ID, 'content-type': 'application/json' }, body: { data: [], next_cursor: null } })).toEqual([
      'body/data must NOT have fewer than 1 items',
    ]);
  });

  it('validates text bodies against their string schema', () => {
    expect(errorsOf({ method: 'GET', path: '/metrics', status: 200, headers: { ...REQUEST_ID, 'content-type': 'text/plain; version=0.0.4' }, body: 'up 1\n' })).toEqual([]);
  });

  it('refuses a path or method the spec does not have', () => {
    expect(errorsOf(getRun({ path: '/v1/nothing' }))).toEqual(['no path of the spec matches /v1/nothing']);
    expect(errorsOf(getRun({ method: 'PUT' }))).toEqual(['the spec has no PUT operation on /v1/runs/{id}']);
  });

  it('refuses a response that belongs to another operation than the one named', () => {
    expect(errorsOf(getRun({ operationId: 'getAgent' }))).toEqual(['GET /v1/runs/run_01jd0000000000000000000000 is not getAgent (GET /v1/agents/{id})']);
    expect(validators.validateResponse(getRun({ operationId: 'getRun' })).ok).toBe(true);
  });
});

describe('matching concrete paths to operations', () => {
  const operationOf = (method: string, path: string) => validators.matchOperation(method, path)?.operationId;

  it('prefers a literal segment over a parameter', () => {
    expect(operationOf('GET', '/v1/agents/catalog')).toBe('getAgentCatalog');
    expect(operationOf('GET', '/v1/agents/echo')).toBe('getAgent');
    expect(operationOf('GET', '/v1/agents/agt_01jd0000000000000000000000')).toBe('getAgent');
    expect(operationOf('DELETE', '/v1/agents/catalog')).toBe('deleteAgent');
  });

  it('ignores query strings and origins, and does not match extra segments', () => {
    expect(operationOf('get', '/v1/agents?limit=5&cursor=abc')).toBe('listAgents');
    expect(operationOf('GET', '/v1/agents/echo?x=1#frag')).toBe('getAgent');
    expect(operationOf('GET', 'http://127.0.0.1:4100/v1/runs/run_1/events?after=3')).toBe('listRunEvents');
    expect(operationOf('GET', '/v1/agents/echo/extra')).toBeUndefined();
    expect(operationOf('GET', '/v1/agents/')).toBeUndefined();
  });
});

describe('assertResponse', () => {
  it('throws a readable error naming the operation, the status and every mismatch', () => {
    let thrown: unknown;
    try {
      validators.assertResponse(getRun({ body: { ...run, status: 'lost', attempt: 'x', usage: undefined } }));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ContractViolationError);
    const error = thrown as ContractViolationError;
    expect(error.operationId).toBe('getRun');
    expect(error.message).toContain('getRun (GET /v1/runs/run_01jd0000000000000000000000) -> 200 application/json; charset=utf-8');
    expect(error.message).toContain('  - body must have required property "usage"');
    expect(error.message).toContain('  - body/status must be one of');
    expect(error.errors).toHaveLength(2);
  });

  it('returns quietly for a valid response', () => {
    expect(() => validators.assertResponse(getRun())).not.toThrow();
  });
});

describe('validateRequestBody and compileSchema', () => {
  it('validates JSON request bodies, unknown fields included', () => {
    expect(validators.validateRequestBody('createAgent', { name: 'triage', runtime: 'model' }).ok).toBe(true);
    expect(validators.validateRequestBody('createAgent', { name: 'triage', runtime: 'model', extra: true })).toEqual({
      ok: false,
      operationId: 'createAgent',
      errors: ['body must NOT have additional property "extra"'],
    });
    expect(validators.validateRequestBody('createAgent', undefined)).toEqual({
      ok: false,
      operationId: 'createAgent',
      errors: ['createAgent requires a request body'],
    });
  });

  it('validates form bodies by their declared content type', () => {
    expect(validators.validateRequestBody('exchangeToken', { grant_type: 'refresh_token' }).ok).toBe(true);
    expect(validators.validateRequestBody('exchangeToken', { grant_type: 'x' }, 'application/json').ok).toBe(false);
    expect(validators.validateRequestBody('getRun', { a: 1 })).toEqual({ ok: false, operationId: 'getRun', errors: ['getRun takes no request body'] });
  });

  it('compiles component schemas by ref, once', () => {
    const validateAgent = validators.compileSchema('#/components/schemas/Agent');
    expect(validateAgent(agent)).toBe(true);
    expect(validateAgent({ ...agent, runtime: 'cron' })).toBe(false);
    expect(validators.compileSchema('openapi#/components/schemas/Agent')).toBe(validateAgent);
  });
});
