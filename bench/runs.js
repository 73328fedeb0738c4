// Issue 3's benchmark: end-to-end `echo` runs per second on the hub (POST /v1/runs, then GET /v1/runs/{id}/wait until
// it answers the succeeded run; the run emits events), beside raw BullMQ no-op jobs per second on the same backend in
// the same run, and the queued-to-started (dispatch) latency of the runs. Goals: hub runs/s >= 0.5x raw BullMQ
// jobs/s, and dispatch p50 under 10 ms. Measured on every backend available, each with a fresh database: Redis (when
// REDIS_URL is set) and PostgreSQL only (BullMQ's PostgreSQL backend).
//
// Process layout, the same for both targets: the server side runs in a child process (bench/servers/hub-server.js:
// the hub with its API and in-process workers, or a bare BullMQ Worker with the same concurrency running a no-op),
// this process is the client (HTTP requests, or Queue.add). Both are closed loops with BENCH_RUN_CONCURRENCY lanes,
// each lane creating one run (job) and waiting for it to finish before the next: the hub's client learns the end
// from the long poll, the raw client from the worker's 'completed' event relayed over IPC. A rate is the count
// divided by the time from the first create to the last finish.
//
// Dispatch latency of a run: runs.started_at - runs.created_at as PostgreSQL recorded them (microseconds; the same
// instants as the run.queued and run.started events). created_at is the start of the create transaction, so it
// includes that transaction, the enqueue, the worker's pick-up and the start of the claim. For the raw jobs: from
// just before Queue.add in this process to the start of the processor in the worker (both processes' clocks).
//
// Dispatch is reported twice: under the throughput load (16 lanes: a run waits behind the others for a CPU, so this
// mostly measures queueing at saturation; raw BullMQ itself is well over 10 ms there), and at light load: one lane,
// BENCH_LIGHT_RUNS runs (jobs) one after another, which is what the "dispatch p50 under 10 ms" goal is judged on,
// for both the hub and raw BullMQ.
//
// Before each target's measured runs (after its warm-up), the database is vacuumed: every target leaves dead rows
// (BullMQ's jobs and events, the hub's runs), which a server's autovacuum would clean up; without it (autovacuum is
// off on this machine's PostgreSQL), each target inherited the dead rows of all those measured before it.
//
// The floor (information, not a goal): what the cheapest durable implementation of the documented run reaches on this
// machine, with the same closed-loop client (lanes, warm-up and measured counts, rate): bare Fastify + pg in a child
// process (bench/servers/core-server.js, kind 'floor'; no auth, RLS, queue, limits, metrics or logging) doing per run
// 2 HTTP requests (POST /runs, GET /runs/{id}/wait) and 3 one-statement commits (queued + run.queued before the 201;
// running + run.started; the echo's events, run.usage, run.completed and 'succeeded'), executing the run in its own
// process and waking the wait with an in-process signal. It does not use the queue backend, but is measured in each
// backend's section (after the hub and raw BullMQ), so that floor/raw and hub/floor compare figures of the same run.
//
// Environment: BENCH_LIGHT_RUNS (default 100), BENCH_RUNS (measured runs per round, default 1000),
// BENCH_RUNS_WARMUP (warm-up runs or jobs of every target before each measured round, default 1000),
// BENCH_RAW_JOBS (measured raw jobs per round, default 4x BENCH_RUNS), BENCH_RUN_CONCURRENCY (client lanes, default 16),
// BENCH_WORKER_CONCURRENCY (hub workers and raw worker, default 16), BENCH_RUN_EVENTS (echo's `events`, default 3),
// BENCH_ROUNDS (default 3; each backend measured that many times, hub and raw alternating; medians reported: single
// rounds of the same code differ by up to 30% on a 2-CPU virtual machine),
// REDIS_URL, DATABASE_URL (fresh databases are created on it and dropped; unset: embedded PostgreSQL),
// BENCH_CPU_PROF=1 (profile the hub during its first measured round; figures are lower), BENCH_TIMEOUT_S,
// BENCH_VACUUM (analyze, the default: VACUUM (ANALYZE) before each measured target; plain: VACUUM only; off: none),
// BENCH_RUN_LIMITS=off (diagnosis: the hub without quotas and rate limits; by default they are on, with a plan whose
// limits never bind).
import { availableParallelism, loadavg } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import {
  BENCH_DIR,
  RESULTS_DIR,
  appDatabaseUrl,
  bullmqBackend,
  checkMachineIdle,
  createDatabase,
  deleteRedisKeys,
  envInt,
  formatNumber,
  formatRatio,
  goal,
  goalMax,
  hubSecrets,
  httpClient,
  isStopping,
  latencyStats,
  machineCpuMeter,
  makeTempDir,
  median,
  onCleanup,
  pgBackendCpuMeter,
  printGoals,
  printProfileSummary,
  printTable,
  processCpuMeter,
  ratio,
  redactUrl,
  runBench,
  runBounded,
  scrubHubEnv,
  startPostgres,
  startServerChild,
  summarizeCpuProfile,
  withPgClient,
  withTimeout,
  writeResults,
} from './lib.js';

const NAME = 'runs';
const SERVER = join(BENCH_DIR, 'servers', 'hub-server.js');
const FLOOR_SERVER = join(BENCH_DIR, 'servers', 'core-server.js');
/** The floor's pg pool: the hub's app pool size (packages/server/src/db/database.ts, default 10). */
const FLOOR_POOL_SIZE = 10;
const FLOOR_LABEL = 'floor: bare Fastify + pg, no queue, 2 requests + 3 commits per run';
const GOALS = { rateVsBullmq: 0.5, dispatchP50Ms: 10 };
/** Limits that never bind, so the run path is the production one (admission, slots) without refusals. */
const PLAN_OVERRIDES = {
  runs_per_period: 1_000_000_000,
  concurrent_runs: 100_000,
  tokens_per_period: 1_000_000_000_000,
  requests_per_minute: 1_000_000_000,
  queue_when_busy: true,
};

const settings = {
  runs: envInt('BENCH_RUNS', 1000, { min: 10, max: 100_000 }),
  warmupRuns: envInt('BENCH_RUNS_WARMUP', 1000, { min: 0, max: 10_000 }),
  concurrency: envInt('BENCH_RUN_CONCURRENCY', 16, { min: 1, max: 256 }),
  workerConcurrency: envInt('BENCH_WORKER_CONCURRENCY', 16, { min: 1, max: 256 }),
  events: envInt('BENCH_RUN_EVENTS', 3, { min: 0, max: 100 }),
  rounds: envInt('BENCH_ROUNDS', 3, { min: 1, max: 20 }),
  lightRuns: envInt('BENCH_LIGHT_RUNS', 100, { min: 10, max: 10_000 }),
  cpuProfile: process.env.BENCH_CPU_PROF === '1',
  vacuum: (process.env.BENCH_VACUUM ?? '').trim().toLowerCase() || 'analyze',
  // Diagnosis only: BENCH_RUN_LIMITS=off runs the hub with limitsEnabled false (no admission, slots or rate limits).
  limitsEnabled: !['0', 'off', 'false'].includes((process.env.BENCH_RUN_LIMITS ?? '').trim().toLowerCase()),
};
if (!['analyze', 'plain', 'off'].includes(settings.vacuum)) {
  console.error(`[runs] BENCH_VACUUM must be analyze, plain or off, not ${JSON.stringify(process.env.BENCH_VACUUM)}`);
  process.exit(2);
}
settings.rawJobs = envInt('BENCH_RAW_JOBS', 4 * settings.runs, { min: 10, max: 1_000_000 });
// Every target warms up with the same count, enough for V8 to finish optimizing the hot code: with 50, the hub's
// measured round still ran TurboFan (about 300 functions compiled during it; server CPU 4.2 ms per run against 2.6 ms
// after 1000), and raw BullMQ and the floor gained too (0.96 -> 0.63 and 2.1 -> 1.0 ms per item). A long-running
// server is measured in that steady state, not in its first seconds.
settings.rawWarmup = settings.warmupRuns;

// Each phase is bounded on its own (below); the whole run too.
const hubPhaseMs = (count) => 60_000 + count * 250;
const lightPhaseMs = (count) => 30_000 + count * 500;
const rawPhaseMs = (count) => 60_000 + count * 50;
const backendsCount = process.env.REDIS_URL?.trim() ? 2 : 1;
const perRoundS =
  (2 * hubPhaseMs(settings.runs + settings.warmupRuns) + lightPhaseMs(settings.lightRuns) + rawPhaseMs(settings.rawJobs + settings.rawWarmup + settings.lightRuns)) / 1000 + 90;
const timeoutMs = envInt('BENCH_TIMEOUT_S', Math.round(240 + backendsCount * settings.rounds * perRoundS), { min: 30, max: 4 * 3600 }) * 1000;

await runBench(NAME, main, { timeoutMs });

async function main() {
  // Redis only where asked for explicitly: the PostgreSQL-only servers must not find it in their environment.
  const redisUrl = process.env.REDIS_URL?.trim() || undefined;
  delete process.env.REDIS_URL;
  const removedEnv = scrubHubEnv();
  const tmpDir = makeTempDir('gcorp-bench-runs-');
  const secrets = hubSecrets();
  const log = (line) => console.log(`[runs] ${line}`);
  const results = {
    module: NAME,
    started_at: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    load_average_1m: { before: loadavg()[0], after: null },
    settings: {
      runs: settings.runs,
      warmup_runs: settings.warmupRuns,
      raw_jobs: settings.rawJobs,
      raw_warmup_jobs: settings.rawWarmup,
      client_concurrency: settings.concurrency,
      worker_concurrency: settings.workerConcurrency,
      echo_events: settings.events,
      rounds: settings.rounds,
      cpu_profile: settings.cpuProfile,
      limits_enabled: settings.limitsEnabled,
      vacuum: settings.vacuum,
      plan_overrides: PLAN_OVERRIDES,
    },
    postgres: null,
    backends: {},
    goals: [],
    notes: [],
    errors: [],
    profiles: {},
    valid: false,
  };
  log(
    `${settings.runs} echo runs (events ${settings.events}) and ${settings.rawJobs} raw BullMQ jobs per round, ${settings.concurrency} client lanes, ` +
      `worker concurrency ${settings.workerConcurrency}` +
      (settings.rounds > 1 ? `, ${settings.rounds} rounds (medians reported)` : ''),
  );
  if (!settings.limitsEnabled) {
    results.notes.push('BENCH_RUN_LIMITS=off: the hub ran without quotas and rate limits (a diagnosis, not the production path)');
    log('limits off (BENCH_RUN_LIMITS): no admission, run slots or rate limits');
  }
  results.machine_busy_pct_before = await checkMachineIdle(results.notes, log);

  // The embedded holder executes nothing (workerConcurrency 0): only the children under test take jobs.
  const pg = await startPostgres({ secrets, tmpDir, appPassword: removedEnv.GCORP_DB_APP_PASSWORD, hubOptions: { workerConcurrency: 0 } });
  const autovacuum = await withPgClient(pg.ownerUrl, async (c) => (await c.query('SHOW autovacuum')).rows[0].autovacuum);
  results.postgres = { mode: pg.mode, description: pg.description, autovacuum };
  log(`PostgreSQL: ${pg.description}, autovacuum ${autovacuum}`);
  results.notes.push(
    settings.vacuum === 'off'
      ? `BENCH_VACUUM=off: the database was not vacuumed between targets${autovacuum === 'off' ? ' and autovacuum is off: each target inherited the dead rows of those measured before it' : ''}`
      : `the database is vacuumed (${settings.vacuum === 'plain' ? 'VACUUM' : 'VACUUM (ANALYZE)'}) before each target's measured runs, so that no target inherits the dead rows of the ones measured before it${autovacuum === 'off' ? ' (autovacuum is off on this PostgreSQL)' : ''}`,
  );
  const backends = redisUrl ? ['redis', 'postgres'] : ['postgres'];
  if (!redisUrl) results.notes.push('REDIS_URL is not set: only the PostgreSQL-only backend was measured');
  log(`backends: ${backends.map((b) => (b === 'redis' ? `Redis (${redactUrl(redisUrl)})` : 'PostgreSQL only (BullMQ PostgreSQL backend)')).join(', ')}`);

  const input = { events: settings.events };
  for (const backend of backends) {
    if (isStopping()) break;
    const out = { backend, database: null, rounds: [], hub: null, raw: null, ratio: null, floor: null, floor_vs_raw: null, hub_vs_floor: null, errors: [], notes: [] };
    results.backends[backend] = out;
    const phase = async (what, fn) => {
      if (isStopping()) return;
      try {
        await fn();
      } catch (err) {
        if (isStopping()) return;
        const message = err?.message ?? String(err);
        out.errors.push(`${what}: ${message}`);
        results.errors.push(`${backend} ${what}: ${message}`);
        console.error(`[runs] ${backend} ${what} failed: ${message}`);
      }
    };
    let db;
    await phase('database', async () => {
      db = await createDatabase(pg.ownerUrl, { prefix: 'gcorp_bench_runs' });
      out.database = db.name;
      if (redisUrl) {
        // The hub's queue and limits live under gcorp:<database>, the raw jobs under bench:<database>.
        onCleanup(() => deleteRedisKeys(redisUrl, [`gcorp:${db.name}:*`, `bench:${db.name}:*`]));
      }
    });
    if (!db) continue;
    const appUrl = appDatabaseUrl(db.url, pg.appPassword);
    const hubDataDir = join(tmpDir, `hub-${backend}`);
    const state = { auth: undefined, tenantId: undefined };
    log(`--- ${backend === 'redis' ? 'Redis' : 'PostgreSQL only'} (database ${db.name}) ---`);

    for (let round = 1; round <= settings.rounds; round++) {
      const entry = { round, hub: null, raw: null, floor: null };
      out.rounds.push(entry);
      const tag = settings.rounds > 1 ? ` (round ${round})` : '';
      const hubPhase = () =>
        phase(`hub${tag}`, async () => {
          const hub = await startServerChild(
            SERVER,
            {
              kind: 'hub',
              ownerUrl: db.url,
              appPassword: pg.appPassword,
              dataDir: hubDataDir,
              bootstrapToken: secrets.bootstrapToken,
              secretKey: secrets.secretKey,
              redisUrl: backend === 'redis' ? redisUrl : undefined,
              workerConcurrency: settings.workerConcurrency,
              limitsEnabled: settings.limitsEnabled,
              planOverrides: PLAN_OVERRIDES,
            },
            { label: `hub (${backend})` },
          );
          const client = await httpClient(hub.url, { maxSockets: settings.concurrency * 2 + 4 });
          try {
            if (hub.info.queue !== backend) throw new Error(`the hub's queue is on ${hub.info.queue}, expected ${backend}`);
            if (!state.auth) await setUpHub(client, secrets, state, input);
            if (settings.warmupRuns > 0) {
              log(`${backend}${tag}: hub warm-up, ${settings.warmupRuns} runs`);
              await withTimeout(hubRuns(client, state.auth, input, settings.warmupRuns, settings.concurrency), hubPhaseMs(settings.warmupRuns), 'hub warm-up');
            }
            await vacuumDatabase(db.url);
            log(`${backend}${tag}: hub, ${settings.runs} runs`);
            const profile = settings.cpuProfile && round === 1;
            if (profile) await hub.call('profile-start');
            await hub.call('cpu-start');
            const meters = { loadGenerator: processCpuMeter(), machine: machineCpuMeter(), postgres: await pgBackendCpuMeter(pg.ownerUrl, db.name) };
            const run = await withTimeout(hubRuns(client, state.auth, input, settings.runs, settings.concurrency), hubPhaseMs(settings.runs), 'hub runs');
            run.cpu = await cpuFigures(hub, meters, run);
            if (profile) {
              const { file } = await hub.call('profile-stop', { file: join(RESULTS_DIR, 'profiles', `runs-${backend}-hub.cpuprofile`) });
              results.profiles[`${backend}_hub`] = summarizeCpuProfile(file);
            }
            // Dispatch latency and the checks of every measured run, from the database.
            Object.assign(run, await inspectRuns(db.url, state.tenantId, run.ids, settings.events));
            delete run.ids;
            // Light load: one lane, one run at a time.
            log(`${backend}${tag}: hub light load, ${settings.lightRuns} runs on one lane`);
            const light = await withTimeout(hubRuns(client, state.auth, input, settings.lightRuns, 1), lightPhaseMs(settings.lightRuns), 'hub light load');
            const lightChecks = await inspectRuns(db.url, state.tenantId, light.ids, settings.events);
            run.lightDispatch = lightChecks.dispatch;
            run.problems.push(...light.problems, ...lightChecks.problems);
            run.valid = run.problems.length === 0;
            entry.hub = run;
            log(
              `  ${formatNumber(run.ratePerSec, 1)} runs/s, e2e p50 ${formatNumber(run.latency.p50, 1)} ms p99 ${formatNumber(run.latency.p99, 1)} ms, ` +
                `dispatch p50 ${formatNumber(run.dispatch.p50, 2)} ms p99 ${formatNumber(run.dispatch.p99, 2)} ms, ` +
                `POST /v1/runs p50 ${formatNumber(run.create.p50, 1)} ms p99 ${formatNumber(run.create.p99, 1)} ms, ` +
                `light-load dispatch p50 ${formatNumber(run.lightDispatch.p50, 2)} ms p99 ${formatNumber(run.lightDispatch.p99, 2)} ms` +
                (run.valid ? '' : `, INVALID: ${run.problems.slice(0, 5).join('; ')}`),
            );
          } finally {
            client.close();
            await hub.stop();
          }
        });
      const rawPhase = () =>
        phase(`raw BullMQ${tag}`, async () => {
          const prefix = `bench:${db.name}`;
          const queueName = 'bench-noop';
          const worker = await startServerChild(
            SERVER,
            {
              kind: 'bullmq-noop',
              redisUrl: backend === 'redis' ? redisUrl : undefined,
              postgresUrl: appUrl,
              queueName,
              prefix,
              concurrency: settings.workerConcurrency,
            },
            { label: `raw BullMQ worker (${backend})` },
          );
          const b = await bullmqBackend({ redisUrl: backend === 'redis' ? redisUrl : undefined, postgresUrl: appUrl });
          const queue = new b.Queue(queueName, { connection: b.connection, prefix }, ...b.extra);
          queue.on('error', () => undefined);
          try {
            await queue.waitUntilReady();
            const raw = rawClient(queue, worker, `r${round}`);
            if (settings.rawWarmup > 0) {
              log(`${backend}${tag}: raw BullMQ warm-up, ${settings.rawWarmup} jobs`);
              await withTimeout(raw.run(settings.rawWarmup, settings.concurrency, 'w'), rawPhaseMs(settings.rawWarmup), 'raw warm-up');
            }
            await vacuumDatabase(db.url);
            log(`${backend}${tag}: raw BullMQ, ${settings.rawJobs} no-op jobs`);
            await worker.call('cpu-start');
            const meters = { loadGenerator: processCpuMeter(), machine: machineCpuMeter(), postgres: await pgBackendCpuMeter(pg.ownerUrl, db.name) };
            const run = await withTimeout(raw.run(settings.rawJobs, settings.concurrency, 'm'), rawPhaseMs(settings.rawJobs), 'raw jobs');
            run.cpu = await cpuFigures(worker, meters, run);
            const light = await withTimeout(raw.run(settings.lightRuns, 1, 'l'), rawPhaseMs(settings.lightRuns), 'raw light load');
            run.lightDispatch = light.dispatch;
            run.problems.push(...light.problems);
            run.valid = run.valid && light.valid;
            raw.close();
            entry.raw = run;
            log(
              `  ${formatNumber(run.ratePerSec, 1)} jobs/s, e2e p50 ${formatNumber(run.latency.p50, 2)} ms p99 ${formatNumber(run.latency.p99, 2)} ms, ` +
                `dispatch p50 ${formatNumber(run.dispatch.p50, 2)} ms p99 ${formatNumber(run.dispatch.p99, 2)} ms, ` +
                `light-load dispatch p50 ${formatNumber(run.lightDispatch.p50, 2)} ms p99 ${formatNumber(run.lightDispatch.p99, 2)} ms` +
                (run.valid ? '' : `, INVALID: ${run.problems.slice(0, 5).join('; ')}`),
            );
          } finally {
            await queue.close().catch(() => undefined);
            await b.close();
            await worker.stop();
          }
        });
      const floorPhase = () =>
        phase(`floor${tag}`, async () => {
          const floor = await startServerChild(FLOOR_SERVER, { kind: 'floor', ownerUrl: db.url, poolSize: FLOOR_POOL_SIZE }, { label: `floor (${backend})` });
          const client = await httpClient(floor.url, { maxSockets: settings.concurrency * 2 + 4 });
          try {
            const check = await hubRuns(client, {}, input, 1, 1, '');
            if (check.problems.length > 0) throw new Error(`a first floor run did not succeed: ${check.problems.join('; ')}`);
            if (settings.warmupRuns > 0) {
              log(`${backend}${tag}: floor warm-up, ${settings.warmupRuns} runs`);
              await withTimeout(hubRuns(client, {}, input, settings.warmupRuns, settings.concurrency, ''), hubPhaseMs(settings.warmupRuns), 'floor warm-up');
            }
            await vacuumDatabase(db.url);
            log(`${backend}${tag}: floor (bare Fastify + pg, no queue), ${settings.runs} runs`);
            await floor.call('cpu-start');
            const meters = { loadGenerator: processCpuMeter(), machine: machineCpuMeter(), postgres: await pgBackendCpuMeter(pg.ownerUrl, db.name) };
            const run = await withTimeout(hubRuns(client, {}, input, settings.runs, settings.concurrency, ''), hubPhaseMs(settings.runs), 'floor runs');
            run.cpu = await cpuFigures(floor, meters, run);
            Object.assign(run, await inspectFloorRuns(db.url, run.ids, settings.events));
            delete run.ids;
            run.valid = run.problems.length === 0;
            entry.floor = run;
            log(
              `  ${formatNumber(run.ratePerSec, 1)} runs/s, e2e p50 ${formatNumber(run.latency.p50, 1)} ms p99 ${formatNumber(run.latency.p99, 1)} ms, ` +
                `dispatch p50 ${formatNumber(run.dispatch.p50, 2)} ms p99 ${formatNumber(run.dispatch.p99, 2)} ms, ` +
                `POST /runs p50 ${formatNumber(run.create.p50, 1)} ms p99 ${formatNumber(run.create.p99, 1)} ms` +
                (run.valid ? '' : `, INVALID: ${run.problems.slice(0, 5).join('; ')}`),
            );
          } finally {
            client.close();
            await floor.stop();
          }
        });
      // Round 1 starts with the hub (it migrates the database BullMQ's PostgreSQL backend needs); later rounds alternate.
      if (round % 2 === 1) {
        await hubPhase();
        await rawPhase();
        await floorPhase();
      } else {
        await floorPhase();
        await rawPhase();
        await hubPhase();
      }
    }
    const saturated = (key) => out.rounds.filter((r) => (r[key]?.cpu?.machine_pct_of_all_cpus ?? 0) >= 95).length;
    if (saturated('hub') + saturated('raw') > 0) {
      out.notes.push(
        `the machine's CPUs were saturated (>= 95% busy) while measuring the hub in ${saturated('hub')} and raw BullMQ in ${saturated('raw')} of ${out.rounds.length} rounds: those rates are CPU-bound on this ${availableParallelism()}-CPU machine`,
      );
    }
    if (saturated('floor') > 0) {
      out.notes.push(
        `the machine's CPUs were saturated (>= 95% busy) while measuring the floor in ${saturated('floor')} of ${out.rounds.length} rounds: its rate is CPU-bound on this ${availableParallelism()}-CPU machine`,
      );
    }
    summarizeBackend(out);
  }
  if (isStopping()) return 1;
  results.load_average_1m.after = loadavg()[0];
  // With every server of the benchmark stopped: is something else keeping the machine busy?
  results.machine_busy_pct_after = await checkMachineIdle(results.notes, log, 'after');
  results.noisy = results.notes.some((n) => n.includes('figures are noisy'));
  const noisy = results.noisy ? ' [noisy run: see notes]' : '';

  // Report: one table per backend, then the goals.
  for (const backend of backends) {
    const out = results.backends[backend];
    if (!out) continue;
    console.log(`\n${backend === 'redis' ? 'Redis' : 'PostgreSQL only (BullMQ PostgreSQL backend)'}${out.database ? `, database ${out.database}` : ''}`);
    const pct = (v) => (typeof v === 'number' ? `${Math.round(v)}%` : '-');
    const row = (label, r, unit) =>
      r
        ? [
            label,
            `${r.count}${unit}`,
            formatNumber(r.ratePerSec, 1),
            ...(settings.rounds > 1 ? [`${formatNumber(r.rateMin, 0)}-${formatNumber(r.rateMax, 0)}`] : []),
            formatNumber(r.latency.p50, 2),
            formatNumber(r.latency.p99, 2),
            formatNumber(r.dispatch.p50, 2),
            formatNumber(r.dispatch.p99, 2),
            formatNumber(r.lightDispatch?.p50, 2),
            formatNumber(r.lightDispatch?.p99, 2),
            r.create ? formatNumber(r.create.p50, 2) : '-',
            pct(r.cpu?.server_pct_of_core),
            pct(r.cpu?.postgres_pct_of_core),
            pct(r.cpu?.load_generator_pct_of_core),
            pct(r.cpu?.other_pct_of_core),
            formatNumber(r.cpu?.server_ms_per_item, 2),
            formatNumber(r.cpu?.postgres_ms_per_item, 2),
            r.valid ? 'ok' : `INVALID: ${r.problems.slice(0, 3).join('; ')}`,
          ]
        : [label, '-', '-', ...(settings.rounds > 1 ? ['-'] : []), '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', 'not measured'];
    printTable(
      [
        { title: 'target' },
        { title: 'count', align: 'right' },
        { title: 'per s', align: 'right' },
        ...(settings.rounds > 1 ? [{ title: 'min-max', align: 'right' }] : []),
        { title: 'e2e p50 ms', align: 'right' },
        { title: 'e2e p99 ms', align: 'right' },
        { title: 'dispatch p50 ms', align: 'right' },
        { title: 'dispatch p99 ms', align: 'right' },
        { title: 'light dispatch p50', align: 'right' },
        { title: 'light dispatch p99', align: 'right' },
        { title: 'create p50 ms', align: 'right' },
        { title: 'server cpu', align: 'right' },
        { title: 'pg cpu', align: 'right' },
        { title: 'loadgen cpu', align: 'right' },
        { title: 'other cpu', align: 'right' },
        { title: 'server ms/item', align: 'right' },
        { title: 'pg ms/item', align: 'right' },
        { title: 'checks' },
      ],
      [row(`hub echo runs (events ${settings.events})`, out.hub, ' runs'), row('raw BullMQ no-op jobs', out.raw, ' jobs'), row(FLOOR_LABEL, out.floor, ' runs')],
    );
    printTable(
      [{ title: 'goal' }, { title: 'value', align: 'right' }, { title: 'target', align: 'right' }],
      [
        ['hub runs/s / raw BullMQ jobs/s', formatRatio(out.ratio), `>= ${GOALS.rateVsBullmq}x`],
        ['hub dispatch p50 at light load (queued -> started, one lane)', out.hub ? `${formatNumber(out.hub.lightDispatch.p50, 2)} ms` : '-', `< ${GOALS.dispatchP50Ms} ms`],
      ],
    );
    console.log(
      `info (not a goal): floor ${formatNumber(out.floor?.ratePerSec, 1)} runs/s / raw BullMQ ${formatNumber(out.raw?.ratePerSec, 1)} jobs/s = ${formatRatio(out.floor_vs_raw)}; ` +
        `hub ${formatNumber(out.hub?.ratePerSec, 1)} runs/s / floor = ${formatRatio(out.hub_vs_floor)}` +
        (out.floor && !out.floor.valid ? ' (floor INVALID)' : ''),
    );
    for (const note of out.notes) console.log(`note: ${note}`);
  }
  console.log(
    '\ne2e: create (or add) to finished as the client saw it; dispatch: queued -> started (hub: runs.created_at -> started_at in\n' +
      'PostgreSQL, which includes the create transaction; raw: before Queue.add -> processor start); create: POST /v1/runs\n' +
      'answered (201) as the client saw it; cpu: % of one core while measured, by the server child, by the PostgreSQL backends\n' +
      'of the database, by this process (the client) and by everything else (Redis, PostgreSQL\'s WAL writer, other\n' +
      'programs); ms/item: CPU milliseconds per finished run (job) of the server child and of the database backends;\n' +
      'floor: the cheapest durable run service (bare Fastify + pg, no queue; dispatch: created_at -> started_at of its rows), with\n' +
      'the hub\'s client; measured in each backend section though it uses no queue, so each ratio compares figures of one run',
  );
  for (const backend of backends) {
    const out = results.backends[backend];
    if (!out) continue;
    const validBoth = Boolean(out.hub?.valid && out.raw?.valid);
    results.goals.push(
      goal(`${backend}_runs_vs_bullmq`, {
        value: out.ratio,
        min: GOALS.rateVsBullmq,
        valid: validBoth,
        detail: `${backend}: ${formatNumber(out.hub?.ratePerSec, 1)} echo runs/s = ${formatRatio(out.ratio)} raw BullMQ ${formatNumber(out.raw?.ratePerSec, 1)} jobs/s (goal >= ${GOALS.rateVsBullmq}x)${noisy}`,
      }),
      goalMax(`${backend}_dispatch_p50`, {
        value: out.hub?.lightDispatch.p50 ?? null,
        max: GOALS.dispatchP50Ms,
        valid: Boolean(out.hub?.valid),
        detail:
          `${backend}: queued-to-started at light load p50 ${formatNumber(out.hub?.lightDispatch.p50, 2)} ms, p99 ${formatNumber(out.hub?.lightDispatch.p99, 2)} ms ` +
          `(goal p50 < ${GOALS.dispatchP50Ms} ms; raw BullMQ ${formatNumber(out.raw?.lightDispatch.p50, 2)} ms); under the ${settings.concurrency}-lane throughput load ` +
          `p50 ${formatNumber(out.hub?.dispatch.p50, 2)} ms (raw BullMQ ${formatNumber(out.raw?.dispatch.p50, 2)} ms)${noisy}`,
      }),
    );
  }
  console.log('');
  if (settings.cpuProfile) results.notes.push('the hub was CPU-profiled during its first measured round: its figures are lower than unprofiled');
  printGoals(NAME, results.goals);
  for (const note of results.notes) console.log(`note: ${note}`);
  for (const [key, summary] of Object.entries(results.profiles)) printProfileSummary(`CPU profile ${key}`, summary);

  results.valid = results.goals.length > 0 && results.goals.every((g) => g.status !== 'INVALID') && results.errors.length === 0;
  const file = writeResults(NAME, results);
  console.log(`\nresults: ${file}`);
  return results.valid ? 0 : 1;
}

/** Bootstraps the fresh hub and creates the API key the load uses; checks one run end to end. */
async function setUpHub(client, secrets, state, input) {
  const boot = await client.request('POST', '/v1/bootstrap', {
    json: { bootstrap_token: secrets.bootstrapToken, admin_email: 'bench@example.com', admin_password: `bench-${secrets.secretKey}`, tenant_name: 'bench-runs' },
  });
  expectStatus(boot, 201, 'POST /v1/bootstrap');
  state.tenantId = boot.body.tenant.id;
  const key = await client.request('POST', '/v1/api-keys', {
    headers: { authorization: `Bearer ${boot.body.api_key.key}` },
    json: { name: 'bench-runs', scopes: ['runs:read', 'runs:write'] },
  });
  expectStatus(key, 201, 'POST /v1/api-keys');
  state.auth = { authorization: `Bearer ${key.body.key}` };
  const check = await hubRuns(client, state.auth, input, 1, 1);
  if (check.problems.length > 0) throw new Error(`a first echo run did not succeed: ${check.problems.join('; ')}`);
}

function expectStatus(res, status, what) {
  if (res.status !== status) throw new Error(`${what} answered ${res.status}, expected ${status}: ${res.text.slice(0, 400)}`);
}

/**
 * `count` echo runs through the API, `concurrency` lanes each creating a run and long-polling it to its end. `prefix`
 * is the routes' prefix: '/v1' for the hub, '' for the floor (POST /runs, GET /runs/{id}/wait).
 * Resolves to the rate, the client-side latencies, the run ids and the problems met (a run that did not succeed with
 * its input as output, a non-2xx answer).
 */
async function hubRuns(client, auth, input, count, concurrency, prefix = '/v1') {
  const ids = [];
  const latencies = [];
  const createLatencies = [];
  const problems = [];
  const statuses = {};
  const problem = (p) => {
    if (problems.length < 20) problems.push(p);
    else if (problems.length === 20) problems.push('(more problems not listed)');
  };
  const started = process.hrtime.bigint();
  await runBounded(count, concurrency, async () => {
    const t0 = process.hrtime.bigint();
    try {
      const created = await client.request('POST', `${prefix}/runs`, { headers: auth, json: { agent: 'echo', input } });
      statuses[created.status] = (statuses[created.status] ?? 0) + 1;
      if (created.status !== 201) return problem(`POST ${prefix}/runs answered ${created.status}: ${created.text.slice(0, 200)}`);
      createLatencies.push(created.ms);
      const id = created.body.id;
      let res;
      for (let poll = 0; poll < 4; poll++) {
        res = await client.request('GET', `${prefix}/runs/${id}/wait?timeout=30`, { headers: auth, timeoutMs: 40_000 });
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status !== 202) break;
      }
      if (res.status !== 200) return problem(`GET ${prefix}/runs/${id}/wait answered ${res.status}: ${res.text.slice(0, 200)}`);
      if (res.body?.status !== 'succeeded') return problem(`run ${id} ended ${res.body?.status}: ${JSON.stringify(res.body?.error)}`);
      if (!isDeepStrictEqual(res.body.output, input)) return problem(`run ${id} answered another output: ${JSON.stringify(res.body.output)}`);
      ids.push(id);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    } catch (err) {
      problem(err?.message ?? String(err));
    }
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    count,
    succeeded: ids.length,
    seconds,
    ratePerSec: ids.length / seconds,
    latency: latencyStats(latencies),
    create: latencyStats(createLatencies),
    statuses,
    ids,
    problems,
  };
}

/**
 * Reads the measured runs from the database (as the owner, in the tenant): each must have succeeded in one attempt
 * with all its events (run.queued, run.started, the deltas, run.usage, run.completed) and a usage record.
 * Resolves to `{ dispatch, problems }` (the run's problems merged in).
 */
/**
 * VACUUM (ANALYZE) of the benchmark's database, run before each target's measured runs (after its warm-up). Every
 * target leaves dead rows behind (BullMQ's jobs and events, the hub's runs and outbox); a production server's
 * autovacuum cleans up after them, but with autovacuum off (this machine's PostgreSQL configuration) each target would
 * inherit the dead rows of every target and round measured before it, and its figures would depend on that order.
 */
async function vacuumDatabase(ownerUrl) {
  if (settings.vacuum === 'off') return;
  await withPgClient(ownerUrl, (c) => c.query(settings.vacuum === 'plain' ? 'VACUUM' : 'VACUUM (ANALYZE)'));
}

async function inspectRuns(ownerUrl, tenantId, ids, events) {
  const rows = await withPgClient(ownerUrl, async (c) => {
    await c.query(`select set_config('app.tenant_id', $1, false)`, [tenantId]);
    const res = await c.query(
      `select r.id, r.status, r.attempt,
              extract(epoch from (r.started_at - r.created_at)) * 1000 as dispatch_ms,
              (select count(*)::int from run_events e where e.run_id = r.id) as events,
              exists (select 1 from usage_records u where u.run_id = r.id) as metered
         from runs r where r.id = any($1)`,
      [ids],
    );
    return res.rows;
  });
  const problems = [];
  const expectedEvents = events + 4;
  if (rows.length !== ids.length) problems.push(`${ids.length - rows.length} measured runs not found in the database`);
  const bad = rows.filter((r) => r.status !== 'succeeded' || r.attempt !== 1 || r.events !== expectedEvents || !r.metered);
  if (bad.length > 0) {
    const r = bad[0];
    problems.push(`${bad.length} runs not succeeded in one attempt with ${expectedEvents} events and a usage record (e.g. ${r.id}: ${r.status}, attempt ${r.attempt}, ${r.events} events, metered ${r.metered})`);
  }
  return { dispatch: latencyStats(rows.map((r) => Number(r.dispatch_ms))), problems };
}

/**
 * Reads the floor's measured runs from its tables: each must have succeeded with all its events (run.queued,
 * run.started, the deltas, run.usage, run.completed). Resolves to `{ dispatch, problems }` (the run's problems merged in).
 */
async function inspectFloorRuns(ownerUrl, ids, events) {
  const rows = await withPgClient(ownerUrl, async (c) => {
    const res = await c.query(
      `select r.id, r.status,
              extract(epoch from (r.started_at - r.created_at)) * 1000 as dispatch_ms,
              (select count(*)::int from floor_run_events e where e.run_id = r.id) as events,
              (select e.type from floor_run_events e where e.run_id = r.id order by e.seq desc limit 1) as last_event
         from floor_runs r where r.id = any($1)`,
      [ids],
    );
    return res.rows;
  });
  const problems = [];
  const expectedEvents = events + 4;
  if (rows.length !== ids.length) problems.push(`${ids.length - rows.length} measured floor runs not found in the database`);
  const bad = rows.filter((r) => r.status !== 'succeeded' || r.events !== expectedEvents || r.last_event !== 'run.completed');
  if (bad.length > 0) {
    const r = bad[0];
    problems.push(`${bad.length} floor runs not succeeded with ${expectedEvents} events ending in run.completed (e.g. ${r.id}: ${r.status}, ${r.events} events, last ${r.last_event})`);
  }
  return { dispatch: latencyStats(rows.map((r) => Number(r.dispatch_ms))), problems };
}

/** The raw BullMQ client: closed-loop lanes adding a job and waiting for the worker child's 'completed' report. */
function rawClient(queue, worker, tag) {
  const pending = new Map();
  const dispatch = new Map();
  const failures = [];
  const unsubscribe = worker.onMessage((m) => {
    if (m?.type === 'jobs-done') {
      for (const [id, dispatchMs] of m.done) {
        dispatch.set(id, dispatchMs);
        pending.get(id)?.();
      }
    } else if (m?.type === 'jobs-failed') {
      failures.push(`job ${m.id} failed: ${m.message}`);
      pending.get(m.id)?.();
    }
  });
  return {
    async run(count, concurrency, phase) {
      const latencies = [];
      const dispatches = [];
      const problems = [];
      let seq = 0;
      const started = process.hrtime.bigint();
      await runBounded(count, concurrency, async () => {
        const runId = `run_${tag}${phase}${seq++}`;
        const jobId = `${runId}.1`;
        const finished = new Promise((resolve) => pending.set(jobId, resolve));
        const t0 = process.hrtime.bigint();
        try {
          // The job the hub enqueues for a run, with the same options (packages/server/src/runs/queue.ts).
          await queue.add(
            'run',
            { runId, tenantId: 'ten_bench', attempt: 1, t: performance.timeOrigin + performance.now() },
            { jobId, removeOnComplete: true, removeOnFail: true, attempts: 1 },
          );
          await withTimeout(finished, 30_000, `raw job ${jobId}`);
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          if (dispatch.has(jobId)) dispatches.push(dispatch.get(jobId));
        } catch (err) {
          if (problems.length < 20) problems.push(err?.message ?? String(err));
        } finally {
          pending.delete(jobId);
          dispatch.delete(jobId);
        }
      });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      problems.push(...failures.splice(0, failures.length));
      const done = latencies.length;
      return {
        count,
        succeeded: done,
        seconds,
        ratePerSec: done / seconds,
        latency: latencyStats(latencies),
        dispatch: latencyStats(dispatches),
        problems,
        valid: problems.length === 0 && done === count,
      };
    },
    close: unsubscribe,
  };
}

/**
 * CPU use while measured, in % of one core: the server child's, this process's, the database backends' (of this
 * database), the machine's (% of all CPUs) and everything else's; and the server's and the database backends' CPU
 * milliseconds per finished run (job).
 */
async function cpuFigures(server, meters, run) {
  const cpu = {};
  cpu.server_pct_of_core = (await server.call('cpu-stop')).cpuPct;
  cpu.load_generator_pct_of_core = meters.loadGenerator();
  const postgres = await meters.postgres();
  cpu.postgres_pct_of_core = postgres?.pct_of_core ?? null;
  cpu.machine_pct_of_all_cpus = meters.machine();
  const perItem = (pct) => (typeof pct === 'number' && run.succeeded > 0 ? Math.round(((pct * 10 * run.seconds) / run.succeeded) * 100) / 100 : null);
  cpu.server_ms_per_item = perItem(cpu.server_pct_of_core);
  cpu.postgres_ms_per_item = perItem(cpu.postgres_pct_of_core);
  cpu.other_pct_of_core =
    cpu.machine_pct_of_all_cpus === null || cpu.server_pct_of_core === null
      ? null
      : Math.max(
          0,
          Math.round(cpu.machine_pct_of_all_cpus * availableParallelism() - cpu.server_pct_of_core - cpu.load_generator_pct_of_core - (cpu.postgres_pct_of_core ?? 0)),
        );
  return cpu;
}

/** Medians over the rounds: the median round's rate, and the median of the rounds' percentiles. */
function summarizeBackend(out) {
  const pick = (key) => out.rounds.map((r) => r[key]).filter(Boolean);
  const combine = (list) => {
    if (list.length === 0) return null;
    const rates = list.map((r) => r.ratePerSec);
    const med = (get) => median(list.map(get));
    return {
      count: list[0].count,
      ratePerSec: median(rates),
      rateMin: Math.min(...rates),
      rateMax: Math.max(...rates),
      latency: { p50: med((r) => r.latency.p50), p99: med((r) => r.latency.p99) },
      dispatch: { p50: med((r) => r.dispatch.p50), p99: med((r) => r.dispatch.p99) },
      lightDispatch: { p50: med((r) => r.lightDispatch?.p50), p99: med((r) => r.lightDispatch?.p99) },
      create: list[0].create ? { p50: med((r) => r.create.p50), p99: med((r) => r.create.p99) } : null,
      cpu: {
        server_pct_of_core: med((r) => r.cpu?.server_pct_of_core),
        load_generator_pct_of_core: med((r) => r.cpu?.load_generator_pct_of_core),
        postgres_pct_of_core: med((r) => r.cpu?.postgres_pct_of_core),
        server_ms_per_item: med((r) => r.cpu?.server_ms_per_item),
        postgres_ms_per_item: med((r) => r.cpu?.postgres_ms_per_item),
        other_pct_of_core: med((r) => r.cpu?.other_pct_of_core),
      },
      valid: list.every((r) => r.valid) && list.length === out.rounds.length,
      problems: list.flatMap((r, i) => r.problems.map((p) => (list.length > 1 ? `round ${i + 1}: ${p}` : p))),
    };
  };
  out.hub = combine(pick('hub'));
  out.raw = combine(pick('raw'));
  out.floor = combine(pick('floor'));
  if (out.hub && out.hub.problems.length === 0 && !out.hub.valid) out.hub.problems.push('a round was not measured');
  if (out.raw && out.raw.problems.length === 0 && !out.raw.valid) out.raw.problems.push('a round was not measured');
  if (out.floor && out.floor.problems.length === 0 && !out.floor.valid) out.floor.problems.push('a round was not measured');
  out.ratio = ratio(out.hub?.ratePerSec, out.raw?.ratePerSec);
  // The floor's ratios are information, not goals.
  out.floor_vs_raw = ratio(out.floor?.ratePerSec, out.raw?.ratePerSec);
  out.hub_vs_floor = ratio(out.hub?.ratePerSec, out.floor?.ratePerSec);
}
