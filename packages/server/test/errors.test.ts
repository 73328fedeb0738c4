import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

let t: TestHub;
let admin: Tenant;

beforeAll(async () => {
  t = await startTestHub();
  admin = await bootstrap(t);
});
afterAll(async () => t?.close());

async function raw(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const res = await fetch(t.url + path, { ...init, headers: { authorization: `Bearer ${admin.key}`, ...init.headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text.startsWith('{') ? JSON.parse(text) : null };
}

function expectProblem(res: { status: number; headers: Headers; text: string; body: Record<string, unknown> | null }, status: number, code?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  expect(res.body).toMatchObject({ status, type: expect.stringContaining('https://'), title: expect.any(String), detail: expect.any(String) });
  if (code) expect(res.body!.code).toBe(code);
  expect(res.body!.request_id).toBe(res.headers.get('x-request-id'));
  expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace
}

describe('bad input gets a problem, never a 5xx', () => {
  it('malformed JSON is 400', async () => {
    const res = await raw('/v1/api-keys', { method: 'POST', body: '{"name": ', headers: { 'content-type': 'application/json' } });
    expectProblem(res, 400, 'invalid_json');
  });

  it('a wrong content type is 415', async () => {
    expectProblem(await raw('/v1/api-keys', { method: 'POST', body: 'name=x', headers: { 'content-type': 'text/plain' } }), 415);
    expectProblem(await raw('/v1/api-keys', { method: 'POST', body: 'name=x&scopes=runs:read', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415);
  });

  it('unknown, missing and mistyped fields are 400 with each field named', async () => {
    const res = await t.as(admin.key).call('POST', '/v1/api-keys', { body: { name: 42, colour: 'red' } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    const fields = res.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['/body/colour', '/body/scopes', '/body/name']));
  });

  it('a body over 1 MiB is 413', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10), scopes: ['runs:read'] });
    expectProblem(await raw('/v1/api-keys', { method: 'POST', body: big, headers: { 'content-type': 'application/json' } }), 413, 'payload_too_large');
  });

  it('unknown routes are 404 and known routes with another method are 405 with Allow', async () => {
    expectProblem(await raw('/v1/nope'), 404, 'not_found');
    const res = await raw('/v1/me', { method: 'DELETE' });
    expectProblem(res, 405, 'method_not_allowed');
    expect(res.headers.get('allow')).toContain('GET');
  });

  it('bad ids are 404, not 500', async () => {
    const res = await t.as(admin.key).call('GET', '/v1/api-keys/not-an-id');
    expect(res.status).toBe(404);
  });

  it('echoes a valid X-Request-Id and replaces an invalid one', async () => {
    const mine = await raw('/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(mine.headers.get('x-request-id')).toBe('abc-123');
    const bad = await raw('/healthz', { headers: { 'x-request-id': 'has spaces and <tags>' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^req_/);
  });
});
