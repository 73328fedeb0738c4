// RunFeed: signals reach the requests of the publishing process directly (with the run's row when the publisher has
// it), reach other processes through the bus, and the copy the bus brings back to the publisher is dropped.
import { describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { RunFeed, type RunSignal, type SignalBus } from '../src/runs/events.js';
import type { RunRow } from '../src/runs/service.js';

/** An in-memory bus shared by the feeds of several "processes": every message goes to every subscriber, as NOTIFY does. */
function memoryBus() {
  const subscribers = new Set<(payload: string) => void>();
  const messages: string[] = [];
  const bus: SignalBus = {
    async publish(payload) {
      messages.push(payload);
      setImmediate(() => subscribers.forEach((s) => s(payload)));
    },
    async subscribe(onPayload) {
      subscribers.add(onPayload);
      return async () => void subscribers.delete(onPayload);
    },
  };
  return { bus, messages };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('RunFeed', () => {
  it('delivers a signal once in the publishing process, with the row, and once elsewhere, without it', async () => {
    const { bus, messages } = memoryBus();
    const here = new RunFeed(undefined as unknown as Database, bus);
    const there = new RunFeed(undefined as unknown as Database, bus);
    await here.start();
    await there.start();
    const seenHere: (RunSignal | null)[] = [];
    const seenThere: (RunSignal | null)[] = [];
    here.subscribe('run_1', (s) => seenHere.push(s));
    there.subscribe('run_1', (s) => seenThere.push(s));
    const row = { id: 'run_1', tenant_id: 'ten_1', status: 'succeeded' } as RunRow;

    here.publish({ runId: 'run_1', seq: 2, type: 'run.started' }, { runId: 'run_1', seq: 7, type: 'run.completed', run: row });
    await settle();

    expect(seenHere).toEqual([
      { runId: 'run_1', seq: 2, type: 'run.started' },
      { runId: 'run_1', seq: 7, type: 'run.completed', run: row },
    ]);
    expect(seenThere).toEqual([
      { runId: 'run_1', seq: 2, type: 'run.started' },
      { runId: 'run_1', seq: 7, type: 'run.completed' },
    ]);
    expect(messages).toHaveLength(1); // both signals in one message
    await here.stop();
    await there.stop();
  });

  it('delivers messages without an origin (an earlier version of the hub)', async () => {
    const { bus } = memoryBus();
    const feed = new RunFeed(undefined as unknown as Database, bus);
    await feed.start();
    const seen: (RunSignal | null)[] = [];
    feed.subscribe('run_2', (s) => seen.push(s));
    await bus.publish('run_2 3 run.output.delta\nrun_9 1 run.queued');
    await settle();
    expect(seen).toEqual([{ runId: 'run_2', seq: 3, type: 'run.output.delta' }]);
    await feed.stop();
  });
});
