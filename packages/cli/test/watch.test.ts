// Watching a run: a dropped event stream is resumed from the last event (nothing lost, nothing twice); Ctrl-C stops
// watching and leaves the run going, or cancels it with --cancel; --timeout gives up with exit 124.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cli } from './helpers/cli.js';
import { RUN_ID, TEST_KEY, startMockHub, type MockHub } from './helpers/mock-hub.js';

let cli: Cli;
let hub: MockHub | undefined;

beforeEach(() => {
  cli = new Cli({ GCORP_API_KEY: TEST_KEY });
});
afterEach(async () => {
  cli.cleanup();
  await hub?.close();
  hub = undefined;
});

const frame = (seq: number, type: string, data: unknown) =>
  `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify({ id: `evt_${String(seq).padStart(26, '0')}`, run_id: RUN_ID, seq, type, data, created_at: '2025-11-23T10:15:30.120Z' })}\n\n`;

const sse = (body: ReadableStream<Uint8Array> | string) =>
  new Response(body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });

/** An event stream that sends `frames` and then stays open, as a run that is still going. */
function openStream(frames: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const f of frames) controller.enqueue(encoder.encode(f));
    },
  });
}

describe('following a run', () => {
  it('resumes a dropped stream from the last event received', async () => {
    const lastEventIds: (string | null)[] = [];
    hub = await startMockHub({
      listRunEvents: ({ request }) => {
        const last = request.headers.get('last-event-id');
        lastEventIds.push(last);
        // The first connection breaks after two events; the second continues after them.
        if (!last) return sse(frame(1, 'run.started', { attempt: 1 }) + frame(2, 'run.output.delta', { delta: 'one ' }));
        return sse(
          frame(2, 'run.output.delta', { delta: 'one ' }) + // a server may repeat: the client drops it
            frame(3, 'run.output.delta', { delta: 'two' }) +
            frame(4, 'run.completed', { status: 'succeeded', output: 'one two', error: null }),
        );
      },
      getRun: async ({ exampleResponse }) => Response.json({ ...((await exampleResponse().json()) as object), status: 'succeeded' }),
    });
    const r = await cli.run(['run', 'echo', '--follow'], { env: { GCORP_SERVER_URL: hub.url } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('one two\n');
    expect(lastEventIds).toEqual([null, '2']);
  });

  it('Ctrl-C stops watching and leaves the run going (exit 130)', async () => {
    hub = await startMockHub({ listRunEvents: () => sse(openStream([frame(1, 'run.started', { attempt: 1 })])) });
    const running = cli.start(['run', 'echo', '--follow'], { env: { GCORP_SERVER_URL: hub.url } });
    await running.waitFor(/started \(attempt 1\)/);
    running.child.kill('SIGINT');
    const r = await running.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain(`Stopped watching; run ${RUN_ID} goes on. Follow it with: gcorp runs logs ${RUN_ID} --follow`);
    expect(hub.requestsTo('POST', `/v1/runs/${RUN_ID}/cancel`)).toHaveLength(0);
  });

  it('Ctrl-C with --cancel cancels the run', async () => {
    hub = await startMockHub({ listRunEvents: () => sse(openStream([frame(1, 'run.started', { attempt: 1 })])) });
    const running = cli.start(['run', 'echo', '--follow', '--cancel'], { env: { GCORP_SERVER_URL: hub.url } });
    await running.waitFor(/started \(attempt 1\)/);
    running.child.kill('SIGINT');
    const r = await running.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain(`Stopped watching; cancelled run ${RUN_ID}`);
    expect(hub.requestsTo('POST', `/v1/runs/${RUN_ID}/cancel`)).toHaveLength(1);
  });
});

describe('waiting with a time limit', () => {
  const stillRunning = async ({ exampleResponse }: { exampleResponse: () => Response }) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return Response.json({ ...((await exampleResponse().json()) as object), status: 'running', output: null, finished_at: null }, { status: 202 });
  };

  it('runs wait --timeout gives up with exit 124 and leaves the run going', async () => {
    hub = await startMockHub({ waitRun: stillRunning });
    const r = await cli.run(['runs', 'wait', RUN_ID, '--timeout', '1s'], { env: { GCORP_SERVER_URL: hub.url } });
    expect(r.code).toBe(124);
    expect(r.stderr).toContain(`Gave up waiting (--timeout); run ${RUN_ID} goes on.`);
  });

  it('run --wait --timeout --cancel gives up with exit 124 and cancels the run, --json too', async () => {
    hub = await startMockHub({ waitRun: stillRunning });
    const r = await cli.run(['run', 'echo', '--wait', '--timeout', '1s', '--cancel', '--json'], { env: { GCORP_SERVER_URL: hub.url } });
    expect(r.code).toBe(124);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 'wait_timed_out', run_id: RUN_ID, run_cancelled: true });
    expect(JSON.parse(hub.requestsTo('POST', '/v1/runs')[0]!.body)).toMatchObject({ timeout_seconds: 1 });
    expect(hub.requestsTo('POST', `/v1/runs/${RUN_ID}/cancel`)).toHaveLength(1);
  }, 30_000);
});
