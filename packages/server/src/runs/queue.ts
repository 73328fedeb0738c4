// The run queue: BullMQ on Redis when REDIS_URL is set, on BullMQ's PostgreSQL backend otherwise. It only carries
// "run X, attempt N is due"; the run itself (and whether it still needs running) lives in PostgreSQL.
import { Queue, Worker, type Job } from 'bullmq';
import { createPostgresBackend, runMigrations } from 'bullmq/dist/cjs/postgres/index.js';
import { Redis } from 'ioredis';
import pg from 'pg';
import { prepared } from '../db/database.js';
import type { SignalBus } from './events.js';

export interface RunJob {
  runId: string;
  tenantId: string;
  attempt: number;
}

export interface RunWorker {
  close(): Promise<void>;
}

export interface RunQueue {
  readonly backend: 'redis' | 'postgres';
  enqueue(job: RunJob): Promise<void>;
  /**
   * PostgreSQL backend only: the statement that enqueues `job` in the caller's own transaction, so that the run and
   * its job commit together (no outbox row, no second round trip). It calls BullMQ's `add_job` function with the
   * arguments Queue.add gives it for `enqueue`'s options; a job id already in the queue is ignored, as by `enqueue`.
   */
  enqueueStatement?(job: RunJob): { text: string; values: unknown[] };
  work(process: (job: RunJob) => Promise<void>, concurrency: number): RunWorker;
  /** Jobs waiting to be picked up (a gauge for /metrics). */
  depth(): Promise<number>;
  ping(): Promise<boolean>;
  /** Redis pub/sub for run signals, on the queue's Redis (absent on the PostgreSQL backend: NOTIFY is used). */
  readonly signals?: SignalBus;
  close(): Promise<void>;
}

const QUEUE_NAME = 'gcorp-runs';

/**
 * The pool BullMQ's PostgreSQL backend queries through. Its statements carry parameters (so each is one command, sent
 * with the extended protocol) but no name, so PostgreSQL parsed and planned every call of its hot loop (finish and
 * fetch the next job, claim, the no-job signal) again. Here each such statement is prepared once per connection, by a
 * name derived from its text; parameterless queries and everything else go through unchanged. The texts are BullMQ's
 * fixed command scripts (one per operation), so the set of statements, and of names, stays small.
 */
export class PreparingPool extends pg.Pool {
  override query(...args: unknown[]): never {
    const [text, values, callback] = args;
    if (typeof text === 'string' && Array.isArray(values) && values.length > 0 && callback === undefined) {
      return super.query({ ...prepared(text), values }) as never;
    }
    return (super.query as (...a: unknown[]) => unknown)(...args) as never;
  }
}

/**
 * A run attempt's job options, for Queue.add and enqueueStatement alike. One job id per run attempt: BullMQ ignores a
 * second add with the same id, so relays and retries of the enqueue cannot create duplicates.
 */
function jobOptions(job: RunJob) {
  return { attempts: 1, jobId: `${job.runId}.${job.attempt}`, removeOnComplete: true, removeOnFail: true };
}
const BULLMQ_SCHEMA = 'bullmq';

/** Prepares BullMQ's PostgreSQL schema with the owner connection and lets the app role use it (idempotent). */
export async function migrateQueueSchema(ownerUrl: string, appRole: string): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock(4270182)');
    try {
      await runMigrations(client, BULLMQ_SCHEMA);
      const role = client.escapeIdentifier(appRole);
      await client.query(`grant usage on schema ${BULLMQ_SCHEMA} to ${role}`);
      await client.query(`grant select, insert, update, delete on all tables in schema ${BULLMQ_SCHEMA} to ${role}`);
      await client.query(`grant usage, select, update on all sequences in schema ${BULLMQ_SCHEMA} to ${role}`);
      await client.query(`grant execute on all functions in schema ${BULLMQ_SCHEMA} to ${role}`);
    } finally {
      await client.query('select pg_advisory_unlock(4270182)');
    }
  } finally {
    await client.end();
  }
}

export interface RunQueueOptions {
  redisUrl?: string;
  /** Keeps hubs that share one Redis but not one database apart (the database name is a good value). */
  namespace: string;
  /** Connection errors of the queue's own client (reported once per outage by the caller). */
  onError?: (err: Error) => void;
  /** PostgreSQL URL of the app role, used when there is no Redis. */
  postgresUrl: string;
}

export function createRunQueue(opts: RunQueueOptions): RunQueue {
  // BullMQ's classes are generic over their backend; the two constructions differ only in connection and factory.
  type AnyQueue = Queue<RunJob>;
  let connection: unknown;
  let redis: Redis | undefined;
  let pgPool: pg.Pool | undefined;
  let backendFactory: unknown;
  if (opts.redisUrl) {
    redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
    connection = redis;
  } else {
    // One pool of ours for the queue and its workers (rather than a pool per BullMQ object): pg-pool takes its error
    // listener off a client while it is checked out, so a connection PostgreSQL ends then (an embedded PostgreSQL
    // stopped by the same Ctrl-C as the hub) would emit an 'error' nobody listens to and crash the process.
    pgPool = new PreparingPool({
      connectionString: opts.postgresUrl,
      max: 12,
      options: `-c search_path=${BULLMQ_SCHEMA}`,
      keepAlive: true,
      application_name: 'gcorp-server-queue',
    });
    pgPool.on('error', (err) => opts.onError?.(err));
    pgPool.on('connect', (client) => client.on('error', (err) => opts.onError?.(err)));
    connection = pgPool;
    backendFactory = createPostgresBackend;
  }
  const make = <T>(ctor: new (...args: never[]) => T, ...args: unknown[]): T =>
    new (ctor as unknown as new (...a: unknown[]) => T)(...args, ...(backendFactory ? [backendFactory] : []));
  const prefix = `gcorp:${opts.namespace}`; // Redis only; the PostgreSQL backend lives in the hub's own database
  const queue = make(Queue, QUEUE_NAME, { connection, prefix }) as unknown as AnyQueue;
  const workers = new Set<Worker>();
  // Connection errors are retried by BullMQ and show in /readyz; without a listener they would be printed endlessly.
  (queue as unknown as { on(event: 'error', fn: (err: Error) => void): void }).on('error', (err) => opts.onError?.(err));

  let subscriber: Redis | undefined;
  const signals: SignalBus | undefined = redis
    ? {
        async publish(payload) {
          await redis!.publish(`${prefix}:run-signals`, payload);
        },
        async subscribe(onPayload, onReconnect) {
          // A connection of its own (a subscribed connection can do nothing else); ioredis subscribes again after
          // a reconnect, and messages published meanwhile are gone: onReconnect lets readers catch up.
          const sub = redis!.duplicate();
          subscriber = sub;
          sub.on('error', (err: Error) => opts.onError?.(err));
          let ready = false;
          sub.on('ready', () => {
            if (ready) onReconnect();
            ready = true;
          });
          const channel = `${prefix}:run-signals`;
          sub.on('message', (ch: string, message: string) => {
            if (ch === channel) onPayload(message);
          });
          // Redis may be down at start-up: the hub starts anyway (runs wait in the outbox), and readers catch up
          // once the subscription is in place.
          const subscribed = sub.subscribe(channel).then(
            () => true,
            () => false,
          );
          let timer: NodeJS.Timeout | undefined;
          const inTime = await Promise.race([subscribed, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 2_000)))]);
          clearTimeout(timer);
          if (!inTime) void subscribed.then((ok) => ok && onReconnect());
          return async () => {
            sub.disconnect();
            if (subscriber === sub) subscriber = undefined;
          };
        },
      }
    : undefined;

  const addJobText = `select ${BULLMQ_SCHEMA}.add_job($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`;
  return {
    backend: opts.redisUrl ? 'redis' : 'postgres',
    signals,
    ...(opts.redisUrl
      ? {}
      : {
          enqueueStatement(job: RunJob) {
            const opts = jobOptions(job);
            // queue, id, name, data, opts, priority, delay, timestamp, max attempts, parent queue, parent id,
            // parent key, deduplication id, scheduler id, lifo: what Queue.add passes for these options.
            const values = [QUEUE_NAME, opts.jobId, 'run', JSON.stringify(job), JSON.stringify(opts), 0, 0, Date.now(), opts.attempts, null, null, null, null, null, false];
            return { text: addJobText, values };
          },
        }),
    async enqueue(job) {
      await queue.add('run', job, jobOptions(job));
    },
    work(process, concurrency) {
      const worker = make(Worker, QUEUE_NAME, async (job: Job<RunJob>) => process(job.data), {
        connection,
        prefix,
        concurrency,
        // A job held by a worker that died is offered again after 10 s; the run's conditional claim makes a second
        // delivery harmless, so stalls never exhaust a job.
        lockDuration: 10_000,
        stalledInterval: 5_000,
        maxStalledCount: 1_000,
        removeOnComplete: { count: 0 },
        removeOnFail: { count: 0 },
      }) as unknown as Worker;
      worker.on('error', (err: Error) => opts.onError?.(err)); // retried by BullMQ; reported once per outage
      workers.add(worker);
      return {
        async close() {
          workers.delete(worker);
          await worker.close();
        },
      };
    },
    async depth() {
      const counts = await queue.getJobCounts('wait', 'prioritized', 'delayed');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    async ping() {
      try {
        if (redis) return (await redis.ping()) === 'PONG';
        await queue.getJobCounts('wait');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      for (const w of workers) await w.close();
      await queue.close();
      subscriber?.disconnect();
      if (redis) redis.disconnect();
      await pgPool?.end();
    },
  };
}
