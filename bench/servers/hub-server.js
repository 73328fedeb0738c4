// Server side of bench/runs.js and bench/usage.js, in its own process so that it does not share a core with the load
// generator. Serves one target, chosen by the `{type:'start', config}` message from the parent:
//   hub          the hub via startHub: API and (workerConcurrency > 0) in-process run workers, on the database the
//                parent prepared; `config.redisUrl` puts its queue and rate limits on Redis (only an explicit value
//                counts: REDIS_URL of the environment is ignored), `config.planOverrides` is applied to every plan.
//   bullmq-noop  a raw BullMQ Worker with `config.concurrency` on the same backend the hub would use (Redis, or
//                BullMQ's PostgreSQL backend as gcorp_app, with the hub's connection settings) processing a no-op;
//                it reports each finished job to the parent as `{type:'jobs-done', done: [[jobId, dispatchMs], ...]}`
//                (dispatchMs: from the producer's add to the start of processing, by the clocks of both processes).
// Answers `{type:'ready', url, info}`; stops on `{type:'stop'}` or when the parent goes away. Also answers cpu-start,
// cpu-stop, profile-start and profile-stop as bench/servers/core-server.js does.
import { bullmqBackend, importServer, processCpuMeter, startCpuProfile } from '../lib.js';

// Only explicit settings: the PostgreSQL-only runs of a benchmark must not find Redis in the environment.
delete process.env.REDIS_URL;

let closeServer = async () => undefined;
let stopping = false;
let stopProfile;
let cpuMeter;

async function stop(code) {
  if (stopping) return;
  stopping = true;
  try {
    await closeServer();
  } catch (err) {
    console.error(`hub-server: close failed: ${err?.message ?? err}`);
    code = code || 1;
  }
  process.exit(code);
}

function answer(message) {
  if (process.connected) process.send(message, () => undefined);
}

process.on('disconnect', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
process.on('message', (msg) => {
  if (msg?.type === 'start') {
    start(msg.config).then(
      (ready) => answer({ type: 'ready', ...ready }),
      (err) => {
        answer({ type: 'error', message: err?.stack ?? String(err) });
        void stop(1);
      },
    );
  } else if (msg?.type === 'stop') {
    void stop(0);
  } else if (msg?.type === 'cpu-start') {
    cpuMeter = processCpuMeter();
    answer({ type: 'cpu-start:done' });
  } else if (msg?.type === 'cpu-stop') {
    answer({ type: 'cpu-stop:done', cpuPct: cpuMeter ? cpuMeter() : null });
  } else if (msg?.type === 'profile-start' || msg?.type === 'profile-stop') {
    profileCommand(msg).then(
      (result) => answer({ type: `${msg.type}:done`, ...result }),
      (err) => answer({ type: `${msg.type}:error`, message: err?.message ?? String(err) }),
    );
  }
});

async function profileCommand(msg) {
  if (msg.type === 'profile-start') {
    if (stopProfile) throw new Error('a profile is already running');
    stopProfile = await startCpuProfile();
    return {};
  }
  if (!stopProfile) throw new Error('no profile is running');
  const stopNow = stopProfile;
  stopProfile = undefined;
  return { file: await stopNow(msg.file) };
}

async function start(config) {
  if (config.kind === 'hub') return startHubTarget(config);
  if (config.kind === 'bullmq-noop') return startNoopWorker(config);
  throw new Error(`unknown server kind ${config.kind}`);
}

async function startHubTarget(config) {
  const { startHub, loadConfig } = await importServer();
  let plans;
  if (config.planOverrides) {
    // The plan defaults as the hub has them (the parent scrubbed GCORP_* from the environment), each changed alike.
    const defaults = loadConfig({ dataDir: config.dataDir }).plans;
    plans = Object.fromEntries(Object.entries(defaults).map(([name, limits]) => [name, { ...limits, ...config.planOverrides }]));
  }
  const hub = await startHub({
    databaseUrl: config.ownerUrl,
    databaseAppPassword: config.appPassword,
    dataDir: config.dataDir,
    port: 0,
    host: '127.0.0.1',
    logger: false,
    logLevel: 'silent',
    bootstrapToken: config.bootstrapToken,
    secretKey: config.secretKey,
    ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
    ...(config.workerConcurrency !== undefined ? { workerConcurrency: config.workerConcurrency } : {}),
    ...(config.limitsEnabled !== undefined ? { limitsEnabled: config.limitsEnabled } : {}),
    ...(plans ? { plans } : {}),
  });
  closeServer = () => hub.close();
  return {
    url: hub.url,
    info: {
      pid: process.pid,
      queue: hub.config.redisUrl ? 'redis' : 'postgres',
      workerConcurrency: hub.config.workerConcurrency,
      limitsEnabled: hub.config.limitsEnabled,
      plans: hub.config.plans,
    },
  };
}

async function startNoopWorker(config) {
  const backend = await bullmqBackend(config);
  const done = [];
  let flushing = false;
  const flush = () => {
    flushing = false;
    if (done.length === 0) return;
    answer({ type: 'jobs-done', done: done.splice(0, done.length) });
  };
  const worker = new backend.Worker(
    config.queueName,
    async (job) => {
      // The no-op: note when processing started (from the producer's clock reading in the job) and return.
      const dispatchMs = performance.timeOrigin + performance.now() - job.data.t;
      return dispatchMs;
    },
    { connection: backend.connection, prefix: config.prefix, concurrency: config.concurrency, removeOnComplete: { count: 0 }, removeOnFail: { count: 0 } },
    ...backend.extra,
  );
  worker.on('error', (err) => console.error(`hub-server: BullMQ worker error: ${err?.message ?? err}`));
  worker.on('completed', (job, result) => {
    done.push([job.id, result]);
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  });
  worker.on('failed', (job, err) => {
    answer({ type: 'jobs-failed', id: job?.id, message: err?.message ?? String(err) });
  });
  await worker.waitUntilReady();
  closeServer = async () => {
    await worker.close();
    await backend.close();
  };
  return { url: 'http://127.0.0.1:0', info: { pid: process.pid, backend: config.redisUrl ? 'redis' : 'postgres' } };
}
