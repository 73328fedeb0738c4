// The whole flow of an application against the real hub: bootstrap, a key for the app, a run, its event stream,
// waiting for it, and the usage it recorded; every response checked against the spec.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError, type GenericCorp, type RunEvent } from '../src/index.js';
import { contractClient, type TestClient } from './helpers/contract.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, BOOTSTRAP_TOKEN, startRealHub, type RealHub } from './helpers/hub.js';

let hub: RealHub;
let t: TestClient;
/** The application's client: a key with the run and usage scopes. */
let app: GenericCorp;

beforeAll(async () => {
  hub = await startRealHub();
  t = contractClient({ baseUrl: hub.url, apiKey: null });
  const { api_key } = await t.client.bootstrap.create({
    bootstrap_token: BOOTSTRAP_TOKEN,
    admin_email: ADMIN_EMAIL,
    admin_password: ADMIN_PASSWORD,
    tenant_name: 'Acme',
  });
  const admin = t.client.withOptions({ apiKey: api_key.key });
  const key = await admin.apiKeys.create({ name: 'app', scopes: ['runs:read', 'runs:write', 'agents:read', 'usage:read'] });
  app = t.client.withOptions({ apiKey: key.key });
});
afterAll(async () => {
  await t?.close();
  await hub?.close();
});
afterEach(() => t.recorder.assertContract());

describe('runs on the real hub', () => {
  it('the catalog has the echo agent', async () => {
    const names: string[] = [];
    for await (const agent of app.agents.list()) names.push(agent.name);
    expect(names).toContain('echo');
    const echo = await app.agents.get('echo');
    expect(echo).toMatchObject({ kind: 'builtin', runtime: 'builtin' });
  });

  it('create, stream to run.completed, wait, get, list', async () => {
    const run = await app.runs.create({ agent: 'echo', input: { message: 'hi', events: 3, delay_ms: 300 }, metadata: { source: 'sdk-test' } });
    expect(run.status).toBe('queued');

    const events: RunEvent[] = [];
    for await (const event of app.runs.stream(run.id)) events.push(event);
    expect(events[0]?.type).toBe('run.queued');
    expect(events.at(-1)?.type).toBe('run.completed');
    expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
    expect(events.filter((e) => e.type === 'run.output.delta')).toHaveLength(3);
    const completed = events.at(-1)!;
    if (completed.type !== 'run.completed') throw new Error('expected run.completed');
    expect(completed.data.status).toBe('succeeded');

    const done = await app.runs.wait(run.id, { timeoutMs: 30_000 });
    expect(done).toMatchObject({ id: run.id, status: 'succeeded', output: { message: 'hi', events: 3, delay_ms: 300 } });
    expect((await app.runs.get(run.id)).finished_at).not.toBeNull();

    const listed = [];
    for await (const item of app.runs.list({ status: 'succeeded', agent: 'echo' })) listed.push(item.id);
    expect(listed).toContain(run.id);

    const page = await app.runs.events(run.id, { after: 1 });
    expect(page.data.map((e) => e.seq)).toEqual(events.slice(1).map((e) => e.seq));
  });

  it('a stream resumes after a given event id', async () => {
    const run = await app.runs.createAndWait({ agent: 'echo', input: { events: 2 } }, { timeoutMs: 30_000 });
    const seqs: number[] = [];
    for await (const event of app.runs.stream(run.id, { lastEventId: 2 })) seqs.push(event.seq);
    expect(seqs[0]).toBe(3);
    expect(seqs.length).toBeGreaterThan(0);
  });

  it('createAndWait answers the finished run; a failing run is `failed` with its problem', async () => {
    const ok = await app.runs.createAndWait({ agent: 'echo', input: { message: 'again' } }, { timeoutMs: 30_000 });
    expect(ok.status).toBe('succeeded');
    const failed = await app.runs.createAndWait({ agent: 'echo', input: { fail: 'on purpose' } }, { timeoutMs: 30_000 });
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('agent_failed');
  });

  it('the same Idempotency-Key never starts a second run', async () => {
    const body = { agent: 'echo', input: { message: 'once' } };
    const first = await app.runs.create(body, { idempotencyKey: 'sdk-test-once' });
    const second = await app.runs.create(body, { idempotencyKey: 'sdk-test-once' });
    expect(second.id).toBe(first.id);
  });

  it('cancel stops a run; cancelling it again answers its final state', async () => {
    const slow = await app.runs.create({ agent: 'echo', input: { delay_ms: 5_000 } });
    const { data, response } = await app.runs.cancel(slow.id).withResponse();
    expect([200, 202]).toContain(response.status);
    expect(data.id).toBe(slow.id);
    expect((await app.runs.wait(slow.id, { timeoutMs: 30_000 })).status).toBe('cancelled');

    const again = await app.runs.cancel(slow.id).withResponse();
    expect(again.response.status).toBe(200);
    expect(again.data.status).toBe('cancelled');
  });

  it('unknown agents and bad input are typed errors', async () => {
    const unknown = await app.runs.create({ agent: 'no-such-agent', input: {} }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect((unknown as NotFoundError).code).toBe('agent_not_found');
    const invalid = await app.runs.create({ agent: 'echo', input: { events: -1 } }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ValidationError);
    expect((invalid as ValidationError).errors[0]?.field).toMatch(/^\/body\/input/);
  });
});

describe('usage on the real hub', () => {
  it('the summary counts the runs of this period against the plan', async () => {
    const summary = await app.usage.summary();
    expect(summary.plan).toBe('business');
    expect(summary.usage.runs).toBeGreaterThanOrEqual(5);
    expect(summary.quotas.map((q) => q.name)).toContain('runs_per_period');
  });

  it('buckets by agent', async () => {
    const usage = await app.usage.get({ granularity: 'day', group_by: 'agent' });
    expect(usage).toMatchObject({ granularity: 'day', group_by: 'agent' });
    const echoRuns = usage.data.filter((bucket) => bucket.group === 'echo').reduce((sum, bucket) => sum + bucket.runs, 0);
    expect(echoRuns).toBeGreaterThanOrEqual(5);
  });
});
