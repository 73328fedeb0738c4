import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpResponse } from 'msw';
import { ContractViolationError, createContractFetch, createValidators, listOperations, loadSpec } from '../src/index.js';
import { createSpecHandlers, serveHandlers, type ServedHandlers } from '../src/msw.js';
import { concretePath, fixtureSpecPath } from './helpers.js';

const spec = loadSpec(fixtureSpecPath);
const validators = createValidators(spec);
const operations = listOperations(spec);

describe('mock handlers from the fixture spec, served on loopback', () => {
  let served: ServedHandlers;
  beforeAll(async () => {
    served = await serveHandlers(createSpecHandlers(spec));
  });
  afterAll(async () => {
    await served.close();
  });

  it('listens on 127.0.0.1 with a free port', () => {
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it.each(operations.map((operation) => [operation.operationId, operation] as const))(
    '%s answers its example, valid against the spec',
    async (_id, operation) => {
      const client = createContractFetch({ baseUrl: served.url, validators, headers: { authorization: 'Bearer test' } });
      const response = await client.call(operation.method, concretePath(operation.path), { operationId: operation.operationId });
      expect(response.status).toBeGreaterThanOrEqual(200);
      expect(response.status).toBeLessThan(300);
      expect(response.headers['x-request-id']).toBeTruthy();
    },
  );

  it.each(operations.filter((operation) => !operation.isPublic).map((operation) => [operation.operationId, operation] as const))(
    '%s answers 401 problem without credentials',
    async (_id, operation) => {
      const client = createContractFetch({ baseUrl: served.url, validators });
      const response = await client.call(operation.method, concretePath(operation.path));
      expect(response.status).toBe(401);
      expect(response.contentType).toBe('application/problem+json');
      expect(response.headers['www-authenticate']).toBe('Bearer');
      expect(response.body).toMatchObject({ status: 401, code: 'unauthorized' });
    },
  );

  it('routes a literal path to its own operation, not to the templated sibling', async () => {
    const client = createContractFetch({ baseUrl: served.url, validators, headers: { authorization: 'Bearer test' } });
    const catalog = await client.call('GET', '/v1/agents/catalog');
    expect(catalog.body).toEqual(['code-reviewer', 'test-writer']);
    const agent = await client.call('GET', '/v1/agents/echo?expand=1');
    expect(agent.body).toMatchObject({ runtime: 'model' });
  });

  it('answers the JSON list of events when asked for JSON, the stream otherwise', async () => {
    const client = createContractFetch({ baseUrl: served.url, validators, headers: { authorization: 'Bearer test' } });
    const stream = await client.call('GET', '/v1/runs/run_1/events');
    expect(stream.contentType).toBe('text/event-stream');
    expect(stream.text).toBe('id: 1\nevent: run.queued\ndata: {}\n\n');
    const list = await client.call('GET', '/v1/runs/run_1/events', { headers: { accept: 'application/json' } });
    expect(list.contentType).toBe('application/json');
    expect(list.body.data[0].type).toBe('run.queued');
  });

  it('echoes a valid X-Request-Id and accepts JSON and form bodies', async () => {
    const client = createContractFetch({ baseUrl: served.url, validators, headers: { authorization: 'Bearer test' } });
    const created = await client.call('POST', '/v1/agents', { body: { name: 'triage', runtime: 'model' }, headers: { 'x-request-id': 'abc-123' } });
    expect(created.status).toBe(201);
    expect(created.headers['x-request-id']).toBe('abc-123');
    const token = await client.call('POST', '/v1/auth/token', { form: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'd' } });
    expect(token.body).toMatchObject({ token_type: 'Bearer' });
  });

  it('answers 404 for a path the spec does not have', async () => {
    const response = await fetch(`${served.url}/v1/nothing`);
    expect(response.status).toBe(404);
  });
});

describe('overrides and the contract fetch', () => {
  let served: ServedHandlers | undefined;
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  it('lets a test replace one operation and still validates what it answers', async () => {
    const handlers = createSpecHandlers(spec, {
      overrides: {
        getRun: ({ params, exampleResponse }) =>
          params.id === 'run_missing'
            ? HttpResponse.json(
                { type: 'https://docs.genericcorp.dev/problems/rate_limited', title: 'Too many requests', status: 429, code: 'rate_limited', request_id: 'req_1' },
                { status: 429, headers: { 'content-type': 'application/problem+json', 'x-request-id': 'req_1', 'retry-after': '2' } },
              )
            : exampleResponse(),
        getAgent: () => HttpResponse.json({ id: 'agt_bad', name: 'echo', runtime: 'builtin', created_at: 'now' }, { headers: { 'x-request-id': 'req_1' } }),
      },
    });
    served = await serveHandlers(handlers);
    const client = createContractFetch({ baseUrl: served.url, validators, headers: { authorization: 'Bearer test' } });

    const limited = await client.call('GET', '/v1/runs/run_missing');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('2');
    // Overrides replace the whole handler, the credential check included.
    const anonymous = await createContractFetch({ baseUrl: served.url, validators }).call('GET', '/v1/runs/run_other');
    expect(anonymous.status).toBe(200);

    const failure = await client.call('GET', '/v1/agents/echo').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ContractViolationError);
    expect((failure as ContractViolationError).errors).toEqual([
      'header RateLimit-Policy is required but missing',
      'header RateLimit is required but missing',
      'body/id must match pattern "^agt_[0-9a-hjkmnp-tv-z]{26}$"',
      'body/created_at must match format "date-time"',
    ]);
  });

  it('refuses an override for an operation the spec does not have', () => {
    expect(() => createSpecHandlers(spec, { overrides: { getRunz: () => new Response() } })).toThrow(/getRunz: the spec has no such operation/);
  });

  it('prefixes handlers with baseUrl when one is given', async () => {
    const elsewhere = createSpecHandlers(spec, { baseUrl: 'http://api.example.test' });
    served = await serveHandlers(elsewhere);
    expect((await fetch(`${served.url}/healthz`)).status).toBe(404);
  });

  it('fails the call on an undeclared status even without a body', async () => {
    served = await serveHandlers(createSpecHandlers(spec, { overrides: { getHealthz: () => new Response(null, { status: 503, headers: { 'x-request-id': 'r' } }) } }));
    const client = createContractFetch({ baseUrl: served.url, validators });
    await expect(client.call('GET', '/healthz')).rejects.toThrow(/getHealthz \(GET \/healthz\) -> 503\n {2}- status 503 is not declared \(declared: 200\)/);
  });
});
