// Compile-time guarantees of the public types (checked by `tsc -p test`, and harmless at run time): responses from
// the spec tolerate values a newer server adds, requests stay exact, events narrow by type, request() is typed.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  GenericCorp,
  type APIPromise,
  type Agent,
  type AgentCreateParams,
  type PagePromise,
  type Run,
  type RunCreateParams,
  type RunEvent,
  type RunListParams,
  type TokenResponse,
} from '../src/index.js';

const gc = new GenericCorp({ apiKey: 'gc_live_types', baseUrl: 'http://127.0.0.1:9', maxRetries: 0, logLevel: 'off' });

// Builds calls without sending them: the type of a call is what matters here.
function typeOnly(_call: () => unknown): void {}

describe('public types', () => {
  it('responses are typed from openapi.yaml and tolerate unknown enum values', () => {
    expectTypeOf(gc.runs.get).returns.toEqualTypeOf<APIPromise<Run>>();
    expectTypeOf(gc.runs.list).returns.toEqualTypeOf<PagePromise<Run>>();
    expectTypeOf<Run['id']>().toEqualTypeOf<string>();
    expectTypeOf<'succeeded'>().toExtend<Run['status']>();
    expectTypeOf<'paused'>().toExtend<Run['status']>();
    expectTypeOf<Run['finished_at']>().toEqualTypeOf<string | null>();
    expectTypeOf<Run['error']>().not.toBeAny();
    expectTypeOf<TokenResponse['expires_in']>().toEqualTypeOf<number>();
    expectTypeOf<Agent['input_schema']>().toEqualTypeOf<Record<string, unknown> | null>();
  });

  it('requests are exact: optional defaults, JSON Schema inputs, no unknown enum values', () => {
    const minimal: RunCreateParams = { agent: 'echo', input: { message: 'hi' } };
    expect(minimal.agent).toBe('echo');
    const agent: AgentCreateParams = { name: 'x', runtime: 'model', input_schema: { type: 'object' }, config: { model: 'm' } };
    expect(agent.runtime).toBe('model');
    // @ts-expect-error -- a status the API does not have is refused at compile time
    const filter: RunListParams = { status: 'paused' };
    expect(filter).toBeDefined();
    // @ts-expect-error -- request bodies reject unknown fields, as the server does
    const extra: RunCreateParams = { agent: 'echo', input: 1, priority: 'high' };
    expect(extra).toBeDefined();
  });

  it('run events narrow by type', () => {
    const handle = (event: RunEvent): string => {
      switch (event.type) {
        case 'run.log':
          return `${event.data.level} ${event.data.message}`;
        case 'run.usage':
          return String(event.data.input_tokens + event.data.output_tokens);
        case 'run.completed':
          return `${event.data.status} ${event.data.error?.code ?? ''}`;
        case 'run.output.delta':
          return JSON.stringify(event.data.delta);
        case 'run.queued':
        case 'run.started':
          return String(event.data.attempt);
      }
    };
    expect(handle({ id: 'evt_1', run_id: 'run_1', seq: 1, type: 'run.queued', data: { attempt: 1 }, created_at: '' })).toBe('1');
  });

  it('request() is typed by path template, method and operation', () => {
    typeOnly(() => {
      const run = gc.request('get', '/v1/runs/{id}', { params: { id: 'run_1' } });
      expectTypeOf(run).resolves.toEqualTypeOf<Run>();
      const created = gc.request('POST', '/v1/runs', { body: { agent: 'echo', input: null } });
      expectTypeOf(created).resolves.toHaveProperty('timeout_seconds');
      const metrics = gc.request('get', '/metrics');
      expectTypeOf(metrics).resolves.toEqualTypeOf<string>();
      // @ts-expect-error -- `{id}` needs its value
      void gc.request('get', '/v1/runs/{id}');
      // @ts-expect-error -- the body must be a RunCreate
      void gc.request('post', '/v1/runs', { body: { agent: 1 } });
      const raw = gc.request<{ ok: boolean }>('GET', '/v1/not-in-the-spec');
      expectTypeOf(raw).resolves.toEqualTypeOf<{ ok: boolean }>();
    });
    expect(typeof gc.request).toBe('function');
  });
});
