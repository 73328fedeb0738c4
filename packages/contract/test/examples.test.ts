import { describe, expect, it } from 'vitest';
import { exampleResponse, listOperations, loadSpec, synthesizeFromSchema } from '../src/index.js';
import { stringMatching } from '../src/examples.js';
import { fixtureSpecPath } from './helpers.js';

const spec = loadSpec(fixtureSpecPath);
const operation = (id: string) => listOperations(spec).find((candidate) => candidate.operationId === id)!;

describe('synthesizing a minimal valid value from a schema', () => {
  it('keeps required properties only, picks the first enum value and canonical format samples', () => {
    expect(
      synthesizeFromSchema(spec, {
        type: 'object',
        required: ['status', 'at', 'count', 'tags'],
        properties: {
          status: { type: 'string', enum: ['queued', 'running'] },
          at: { type: 'string', format: 'date-time' },
          count: { type: 'integer', minimum: 1 },
          tags: { type: 'array', items: { type: 'string' }, minItems: 1 },
          optional: { type: 'string' },
        },
      }),
    ).toEqual({ status: 'queued', at: '2026-01-01T00:00:00Z', count: 1, tags: ['x'] });
  });

  it('follows $ref, merges allOf, takes the first oneOf and prefers null where allowed', () => {
    expect(synthesizeFromSchema(spec, { $ref: '#/components/schemas/Agent' })).toEqual({
      id: 'agt_00000000000000000000000000',
      name: 'a',
      runtime: 'model',
      created_at: '2026-01-01T00:00:00Z',
    });
    expect(synthesizeFromSchema(spec, { allOf: [{ required: ['a'], properties: { a: { const: 1 } } }, { required: ['b'], properties: { b: { type: 'boolean' } } }] })).toEqual({ a: 1, b: false });
    expect(synthesizeFromSchema(spec, { oneOf: [{ type: 'null' }, { type: 'string' }] })).toBeNull();
    expect(synthesizeFromSchema(spec, { type: ['string', 'null'], format: 'date' })).toBeNull();
    expect(synthesizeFromSchema(spec, { type: ['integer', 'string'], minimum: 2 })).toBe(2);
  });

  it('uses the examples a sub-schema carries', () => {
    expect(synthesizeFromSchema(spec, { type: 'object', required: ['id'], properties: { id: { type: 'string', examples: ['run_123'] } } })).toEqual({ id: 'run_123' });
  });

  it('respects numeric bounds', () => {
    expect(synthesizeFromSchema(spec, { type: 'number', exclusiveMinimum: 0 })).toBe(1);
    expect(synthesizeFromSchema(spec, { type: 'integer', minimum: 3, multipleOf: 5 })).toBe(5);
    expect(synthesizeFromSchema(spec, { type: 'integer', maximum: -2 })).toBe(-2);
  });
});

describe('generating a string for a pattern', () => {
  it.each([
    ['^run_[0-9a-hjkmnp-tv-z]{26}$', `run_${'0'.repeat(26)}`],
    ['^gc_(live|test)_[a-z0-9]+$', 'gc_live_a'],
    ['^[a-z][a-z0-9_]*$', 'a'],
    ['^\\d{4}-\\d{2}$', '0000-00'],
    ['^[^\\s]{2}(?:\\.x)?$', 'aa'],
    ['^\\u0041+$', 'A'],
  ])('%s', (pattern, expected) => {
    expect(stringMatching(pattern)).toBe(expected);
    expect(new RegExp(pattern, 'u').test(expected)).toBe(true);
  });

  it('gives up on lookarounds and backreferences', () => {
    expect(stringMatching('^(?=a)a$')).toBeUndefined();
    expect(stringMatching('^(a)\\1$')).toBeUndefined();
  });
});

describe('exampleResponse', () => {
  it('uses the first 2xx response and its named example', () => {
    const example = exampleResponse(spec, operation('listAgents'));
    expect(example.status).toBe(200);
    expect(example.contentType).toBe('application/json');
    expect(example.body).toMatchObject({ data: [{ name: 'echo' }], next_cursor: null });
    expect(example.headers).toEqual({
      'X-Request-Id': 'req_01jd0000000000000000000000',
      'RateLimit-Policy': '"default";q=600;w=60',
      RateLimit: '"default";r=599;t=60',
    });
  });

  it('negotiates the content type with Accept', () => {
    expect(exampleResponse(spec, operation('listRunEvents')).contentType).toBe('text/event-stream');
    const json = exampleResponse(spec, operation('listRunEvents'), { accept: 'application/json' });
    expect(json.contentType).toBe('application/json');
    expect(json.body).toMatchObject({ data: [{ type: 'run.queued', seq: 1 }], next_cursor: null });
  });

  it('answers a declared error status, through a referenced response', () => {
    const example = exampleResponse(spec, operation('getRun'), { status: 401 });
    expect(example).toMatchObject({ status: 401, contentType: 'application/problem+json', body: { code: 'unauthorized' } });
    expect(() => exampleResponse(spec, operation('getHealthz'), { status: 404 })).toThrow(/declares no response for status 404/);
  });

  it('has no body for 204', () => {
    expect(exampleResponse(spec, operation('deleteAgent'))).toEqual({
      status: 204,
      contentType: undefined,
      body: undefined,
      headers: { 'X-Request-Id': 'req_01jd0000000000000000000000' },
    });
  });
});
