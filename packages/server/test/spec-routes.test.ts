import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listOperations, loadSpec } from '@genericcorp/contract';
import { startTestHub, type TestHub } from './helpers/hub.js';

let t: TestHub;

beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => t?.close());

describe('routes come from openapi.yaml', () => {
  it('every spec operation has a route and every route is a spec operation', () => {
    const spec = listOperations(loadSpec()).map((op) => `${op.method.toUpperCase()} ${op.fastifyPath}`).sort();
    const routes = t.hub.app.hub.routes
      .filter((r) => r.method !== 'HEAD') // Fastify adds HEAD for each GET
      .map((r) => `${r.method} ${r.url}`)
      .sort();
    expect(routes).toEqual(spec);
  });

  it('a handler for an operation the spec lacks is refused at start-up', async () => {
    const { SpecRouter } = await import('../src/http/spec-routes.js');
    const router = new SpecRouter();
    const Fastify = (await import('fastify')).default;
    expect(() => router.register(Fastify(), { notInTheSpec: async () => ({}) })).toThrow(/openapi.yaml does not define/);
    expect(router.missing().length).toBe(router.operations.length);
  });
});
