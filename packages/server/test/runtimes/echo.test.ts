import { describe, expect, it } from 'vitest';
import { createRuntimes, ECHO_AGENT, RunFailure, type Runtime } from '../../src/runtimes/index.js';
import { deltas, makeContext, rejectionOf, within } from './helpers.js';

const runtimes = createRuntimes({
  providers: {},
  webhook: { allowPrivate: false, timeoutMs: 1000, maxAttempts: 1, maxResponseBytes: 1024 },
});
const echo: Runtime = runtimes.forAgent(ECHO_AGENT, 'ten_x');

describe('echo runtime', { timeout: 10_000 }, () => {
  it('returns its input as output and streams it as one delta', async () => {
    const ctx = makeContext(ECHO_AGENT, { message: 'hi' });
    const result = await echo.execute(ctx);
    expect(result).toEqual({ output: { message: 'hi' }, usage: { input_tokens: 0, output_tokens: 0 } });
    expect(ctx.events).toEqual([{ type: 'run.output.delta', data: { delta: { message: 'hi' } } }]);
  });

  it('echoes any JSON value', async () => {
    for (const input of ['plain text', 42, [1, 2], null, true]) {
      const ctx = makeContext(ECHO_AGENT, input);
      expect((await echo.execute(ctx)).output).toEqual(input);
    }
  });

  it('emits N chunk events in order', async () => {
    const ctx = makeContext(ECHO_AGENT, { events: 25 });
    const result = await echo.execute(ctx);
    expect(result.output).toEqual({ events: 25 });
    expect(deltas(ctx.events)).toEqual(Array.from({ length: 25 }, (_, i) => `chunk ${i + 1}`));
  });

  it('emits no delta with events: 0', async () => {
    const ctx = makeContext(ECHO_AGENT, { events: 0 });
    await echo.execute(ctx);
    expect(ctx.events).toEqual([]);
  });

  it('emits the maximum of 10000 events', async () => {
    const ctx = makeContext(ECHO_AGENT, { events: 10_000 });
    await echo.execute(ctx);
    expect(deltas(ctx.events)).toHaveLength(10_000);
  });

  it('waits delay_ms before answering', async () => {
    const ctx = makeContext(ECHO_AGENT, { delay_ms: 120 });
    const start = Date.now();
    await echo.execute(ctx);
    expect(Date.now() - start).toBeGreaterThanOrEqual(115);
  });

  it('spreads the delay between the events', async () => {
    const ctx = makeContext(ECHO_AGENT, { delay_ms: 200, events: 4 });
    const start = Date.now();
    const times: number[] = [];
    const emit = ctx.emit.bind(ctx);
    ctx.emit = async (e) => {
      times.push(Date.now() - start);
      await emit(e);
    };
    await echo.execute(ctx);
    expect(times).toHaveLength(4);
    expect(times[0]).toBeGreaterThanOrEqual(45);
    expect(times[3]).toBeGreaterThanOrEqual(195);
  });

  it('reports the usage it is given', async () => {
    const ctx = makeContext(ECHO_AGENT, { usage: { input_tokens: 12, output_tokens: 34 } });
    const result = await echo.execute(ctx);
    expect(result.usage).toEqual({ input_tokens: 12, output_tokens: 34 });
    expect(ctx.events).toContainEqual({ type: 'run.usage', data: { input_tokens: 12, output_tokens: 34 } });
  });

  it('fails with agent_failed when asked to', async () => {
    const err = await rejectionOf(echo.execute(makeContext(ECHO_AGENT, { fail: true })));
    expect(err).toBeInstanceOf(RunFailure);
    expect(err).toMatchObject({ code: 'agent_failed', detail: 'echo was asked to fail', retryable: false });

    const custom = await rejectionOf(echo.execute(makeContext(ECHO_AGENT, { fail: 'disk on fire', events: 2 })));
    expect(custom).toMatchObject({ code: 'agent_failed', detail: 'disk on fire' });
  });

  it('rejects out-of-range options with invalid_input', async () => {
    for (const input of [{ delay_ms: -1 }, { delay_ms: 600_001 }, { events: 10_001 }, { events: 1.5 }, { fail: 3 }, { usage: 'x' }]) {
      const err = await rejectionOf(echo.execute(makeContext(ECHO_AGENT, input)));
      expect(err).toMatchObject({ code: 'invalid_input' });
    }
  });

  it('rejects with the signal reason when aborted during the delay', async () => {
    const ctx = makeContext(ECHO_AGENT, { delay_ms: 600_000 });
    const running = echo.execute(ctx);
    await new Promise((r) => setTimeout(r, 20));
    const reason = new Error('cancelled by test');
    ctx.controller.abort(reason);
    // The delay is 10 minutes: ending within this budget, with the abort's reason, is the abort's doing.
    const err = await within(rejectionOf(running), 5_000, 'abort');
    expect(err).toBe(reason);
  });

  it('stops emitting when aborted between events', async () => {
    const ctx = makeContext(ECHO_AGENT, { delay_ms: 10_000, events: 100 });
    const running = echo.execute(ctx);
    await within(ctx.waitForEvents('run.output.delta', 2), 5_000, 'two deltas');
    ctx.controller.abort(new Error('stop'));
    const err = await within(rejectionOf(running), 5_000, 'abort');
    expect((err as Error).message).toBe('stop');
    const count = deltas(ctx.events).length;
    await new Promise((r) => setTimeout(r, 250));
    expect(deltas(ctx.events)).toHaveLength(count);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const ctx = makeContext(ECHO_AGENT, {});
    const reason = new Error('early');
    ctx.controller.abort(reason);
    expect(await rejectionOf(echo.execute(ctx))).toBe(reason);
    expect(ctx.events).toEqual([]);
  });
});
