// How fast a change made through one hub process takes effect on another: the latencies the tests no longer time
// (they prove the push path instead; see packages/server/test/runs-scale.test.ts and scale-out.test.ts). Two hub
// processes on one fresh database (and Redis when REDIS_URL is set), as a scale-out deployment runs them:
//   A  API only (workerConcurrency 0): every request of the measurement goes to it, except the revocation checks.
//   B  API and worker: executes every run.
// (a) cancel latency: an echo run that would sleep for 10 minutes is running on B's worker; from sending POST
//     /v1/runs/{id}/cancel to A until GET /v1/runs/{id} on A answers `cancelled` (PostgreSQL NOTIFY reaches B, B aborts
//     the agent and records the end). Goal: p95 < 1000 ms. Without NOTIFY it would take up to the lease renewal
//     (every 5 s with the default 15 s lease).
// (b) revocation propagation: a key B has verified (and so cached); from sending DELETE /v1/api-keys/{id} to A until
//     the key gets 401 on B. Goal: p95 < 1000 ms. Without NOTIFY it would take up to the key cache lifetime (30 s).
// Baselines, printed as context and ratios: the same polling requests when nothing has to propagate, i.e. a plain
// GET /v1/runs/{id} on A and GET /v1/me on B. Each latency is measured sequentially (one sample at a time) by this
// process's monotonic clock, polling every BENCH_PROPAGATION_POLL_MS; the server-side part of a cancellation
// (cancel_requested_at -> finished_at, PostgreSQL's clock) is reported beside it.
//
// Environment: BENCH_PROPAGATION_RUNS (measured cancellations, default 30), BENCH_PROPAGATION_KEYS (measured
// revocations, default 20), BENCH_PROPAGATION_WARMUP (discarded samples of each, default 3), BENCH_PROPAGATION_BASELINE
// (requests per baseline, default 200), BENCH_PROPAGATION_POLL_MS (default 5), REDIS_URL, DATABASE_URL (a fresh
// database is created on it and dropped; unset: embedded PostgreSQL), BENCH_TIMEOUT_S.
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import {
  BENCH_DIR,
  checkMachineIdle,
  createDatabase,
  deleteRedisKeys,
  envInt,
  formatNumber,
  formatRatio,
  goalMax,
  hubSecrets,
  httpClient,
  isStopping,
  latencyStats,
  makeTempDir,
  onCleanup,
  printGoals,
  printTable,
  quantile,
  ratio,
  redactUrl,
  runBench,
  scrubHubEnv,
  sleep,
  startPostgres,
  startServerChild,
  withPgClient,
  writeResults,
} from './lib.js';

const NAME = 'propagation';
const SERVER = join(BENCH_DIR, 'servers', 'hub-server.js');
const GOALS = { cancelP95Ms: 1000, revocationP95Ms: 1000 };
/** Limits that never bind: the polling below must not be rate limited, and the production path stays on. */
const PLAN_OVERRIDES = {
  runs_per_period: 1_000_000_000,
  concurrent_runs: 100_000,
  tokens_per_period: 1_000_000_000_000,
  requests_per_minute: 1_000_000_000,
  queue_when_busy: true,
};
/** How long one sample may take before it counts as a failure: beyond the fallbacks (5 s lease renewal, 30 s cache). */
const CANCEL_GIVE_UP_MS = 30_000;
const REVOCATION_GIVE_UP_MS = 45_000;

const settings = {
  runs: envInt('BENCH_PROPAGATION_RUNS', 30, { min: 1, max: 1000 }),
  keys: envInt('BENCH_PROPAGATION_KEYS', 20, { min: 1, max: 1000 }),
  warmup: envInt('BENCH_PROPAGATION_WARMUP', 3, { min: 0, max: 100 }),
  baseline: envInt('BENCH_PROPAGATION_BASELINE', 200, { min: 10, max: 100_000 }),
  pollMs: envInt('BENCH_PROPAGATION_POLL_MS', 5, { min: 0, max: 1000 }),
};
const timeoutMs =
  envInt(
    'BENCH_TIMEOUT_S',
    Math.round(300 + ((settings.runs + settings.warmup) * (CANCEL_GIVE_UP_MS + 10_000) + (settings.keys + settings.warmup) * (REVOCATION_GIVE_UP_MS + 5_000)) / 10_000),
    { min: 30, max: 4 * 3600 },
  ) * 1000;

await runBench(NAME, main, { timeoutMs });

async function main() {
  // Redis only where asked for explicitly (hub-server.js ignores the environment's).
  const redisUrl = process.env.REDIS_URL?.trim() || undefined;
  delete process.env.REDIS_URL;
  const removedEnv = scrubHubEnv();
  const tmpDir = makeTempDir('gcorp-bench-propagation-');
  const secrets = hubSecrets();
  const log = (line) => console.log(`[propagation] ${line}`);
  const results = {
    module: NAME,
    started_at: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    load_average_1m: { before: loadavg()[0], after: null },
    settings: { ...settings, plan_overrides: PLAN_OVERRIDES },
    postgres: null,
    queue: redisUrl ? 'redis' : 'postgres',
    database: null,
    processes: null,
    cancel: null,
    revocation: null,
    baseline: null,
    goals: [],
    notes: [],
    errors: [],
    valid: false,
  };
  log(
    `${settings.runs} cancellations and ${settings.keys} revocations (after ${settings.warmup} discarded of each), ` +
      `baselines of ${settings.baseline} requests, polling every ${settings.pollMs} ms`,
  );
  results.machine_busy_pct_before = await checkMachineIdle(results.notes, log);

  const pg = await startPostgres({ secrets, tmpDir, appPassword: removedEnv.GCORP_DB_APP_PASSWORD, hubOptions: { workerConcurrency: 0 } });
  results.postgres = { mode: pg.mode, description: pg.description };
  log(`PostgreSQL: ${pg.description}`);
  log(`queue: ${redisUrl ? `Redis (${redactUrl(redisUrl)})` : 'PostgreSQL only (REDIS_URL is not set)'}`);
  if (!redisUrl) results.notes.push('REDIS_URL is not set: the queue ran on PostgreSQL (NOTIFY is PostgreSQL either way)');
  const db = await createDatabase(pg.ownerUrl, { prefix: 'gcorp_bench_propagation' });
  results.database = db.name;
  // The hubs' queue and limits live under gcorp:<database>.
  if (redisUrl) onCleanup(() => deleteRedisKeys(redisUrl, [`gcorp:${db.name}:*`]));

  const hubConfig = (name, workerConcurrency) => ({
    kind: 'hub',
    ownerUrl: db.url,
    appPassword: pg.appPassword,
    dataDir: join(tmpDir, `hub-${name}`),
    bootstrapToken: secrets.bootstrapToken,
    secretKey: secrets.secretKey,
    redisUrl,
    workerConcurrency,
    planOverrides: PLAN_OVERRIDES,
  });
  // One after the other: A migrates the fresh database, B finds it migrated.
  const hubA = await startServerChild(SERVER, hubConfig('a', 0), { label: 'hub A (API only)' });
  const hubB = await startServerChild(SERVER, hubConfig('b', 4), { label: 'hub B (API and worker)' });
  results.processes = { a: { pid: hubA.info.pid, worker_concurrency: hubA.info.workerConcurrency }, b: { pid: hubB.info.pid, worker_concurrency: hubB.info.workerConcurrency } };
  log(`hub A pid ${hubA.info.pid} (API only) at ${hubA.url}; hub B pid ${hubB.info.pid} (API, worker concurrency ${hubB.info.workerConcurrency}) at ${hubB.url}`);
  const a = await httpClient(hubA.url, { maxSockets: 4 });
  const b = await httpClient(hubB.url, { maxSockets: 4 });
  try {
    const setup = await setUp(a, secrets);

    // (a) cancel latency
    log(`cancel: ${settings.warmup} warm-up + ${settings.runs} runs executing on B, cancelled through A`);
    const cancel = { samples: [], problems: [] };
    for (let i = 0; i < settings.warmup + settings.runs && !isStopping(); i++) {
      try {
        const sample = await cancelSample(a, setup.auth);
        if (i >= settings.warmup) cancel.samples.push(sample);
      } catch (err) {
        cancel.problems.push(err?.message ?? String(err));
        if (cancel.problems.length >= 5) break;
      }
    }
    if (isStopping()) return 1;
    // Every measured run ran on B (the only worker), and how long the hub itself took (PostgreSQL's clock).
    const rows = await withPgClient(db.url, async (c) => {
      await c.query(`select set_config('app.tenant_id', $1, false)`, [setup.tenantId]);
      const res = await c.query(
        `select id, status, worker_id, extract(epoch from (finished_at - cancel_requested_at)) * 1000 as server_ms
           from runs where id = any($1)`,
        [cancel.samples.map((s) => s.id)],
      );
      return res.rows;
    });
    const onB = (r) => typeof r.worker_id === 'string' && Number(r.worker_id.split(':').at(-2)) === hubB.info.pid;
    const offB = rows.filter((r) => !onB(r) || r.status !== 'cancelled');
    if (rows.length !== cancel.samples.length) cancel.problems.push(`${cancel.samples.length - rows.length} measured runs not found in the database`);
    if (offB.length > 0) cancel.problems.push(`${offB.length} runs not cancelled on B's worker (e.g. ${offB[0].id}: ${offB[0].status} on ${offB[0].worker_id})`);
    results.cancel = summarize(cancel, {
      server: statsOf(rows.map((r) => Number(r.server_ms))),
      request: statsOf(cancel.samples.map((s) => s.requestMs)),
    });
    log(`  p50 ${formatNumber(results.cancel.latency.p50, 1)} ms, p95 ${formatNumber(results.cancel.latency.p95, 1)} ms, max ${formatNumber(results.cancel.latency.max, 1)} ms`);

    // (b) revocation propagation
    log(`revocation: ${settings.warmup} warm-up + ${settings.keys} keys cached on B, revoked through A`);
    const revocation = { samples: [], problems: [] };
    for (let i = 0; i < settings.warmup + settings.keys && !isStopping(); i++) {
      try {
        const sample = await revocationSample(a, b, setup.auth, i);
        if (i >= settings.warmup) revocation.samples.push(sample);
      } catch (err) {
        revocation.problems.push(err?.message ?? String(err));
        if (revocation.problems.length >= 5) break;
      }
    }
    if (isStopping()) return 1;
    results.revocation = summarize(revocation, { request: statsOf(revocation.samples.map((s) => s.requestMs)) });
    log(`  p50 ${formatNumber(results.revocation.latency.p50, 1)} ms, p95 ${formatNumber(results.revocation.latency.p95, 1)} ms, max ${formatNumber(results.revocation.latency.max, 1)} ms`);

    // Baselines: the polling requests themselves, with nothing to propagate.
    log(`baselines: ${settings.baseline} x GET /v1/runs/{id} on A, ${settings.baseline} x GET /v1/me on B`);
    const finishedRun = cancel.samples.at(-1)?.id ?? setup.runId;
    results.baseline = {
      get_run_on_a: await baselineOf(() => a.request('GET', `/v1/runs/${finishedRun}`, { headers: setup.auth }), 200),
      get_me_on_b: await baselineOf(() => b.request('GET', '/v1/me', { headers: setup.auth }), 200),
    };
  } finally {
    a.close();
    b.close();
    await hubB.stop();
    await hubA.stop();
  }

  results.load_average_1m.after = loadavg()[0];
  results.machine_busy_pct_after = await checkMachineIdle(results.notes, log, 'after');
  const noisy = results.notes.some((n) => n.includes('figures are noisy')) ? ' [noisy run: see notes]' : '';
  const { cancel, revocation, baseline } = results;
  cancel.ratio_p50_to_baseline = ratio(cancel.latency.p50, baseline.get_run_on_a.latency.p50);
  revocation.ratio_p50_to_baseline = ratio(revocation.latency.p50, baseline.get_me_on_b.latency.p50);

  console.log(`\ntwo hub processes on one database (${db.name}), queue on ${results.queue === 'redis' ? 'Redis' : 'PostgreSQL'}`);
  const row = (label, stats, base, r, checks) => [
    label,
    stats.count,
    formatNumber(stats.p50, 1),
    formatNumber(stats.p95, 1),
    formatNumber(stats.max, 1),
    base,
    r === undefined ? '' : formatRatio(r),
    checks,
  ];
  const checks = (s) => (s.valid ? 'ok' : `INVALID: ${s.problems.slice(0, 3).join('; ')}`);
  printTable(
    [
      { title: 'measure' },
      { title: 'count', align: 'right' },
      { title: 'p50 ms', align: 'right' },
      { title: 'p95 ms', align: 'right' },
      { title: 'max ms', align: 'right' },
      { title: 'baseline p50 ms', align: 'right' },
      { title: 'p50 / baseline', align: 'right' },
      { title: 'checks' },
    ],
    [
      row('cancel on A -> cancelled (run on B)', cancel.latency, formatNumber(baseline.get_run_on_a.latency.p50, 2), cancel.ratio_p50_to_baseline, checks(cancel)),
      row('  of which POST /cancel answered', cancel.request, '', undefined, ''),
      row('  server: cancel_requested_at -> finished_at', cancel.server, '', undefined, ''),
      row('revoke on A -> 401 on B', revocation.latency, formatNumber(baseline.get_me_on_b.latency.p50, 2), revocation.ratio_p50_to_baseline, checks(revocation)),
      row('  of which DELETE answered', revocation.request, '', undefined, ''),
      row('baseline: GET /v1/runs/{id} on A', baseline.get_run_on_a.latency, '', undefined, checks(baseline.get_run_on_a)),
      row('baseline: GET /v1/me on B', baseline.get_me_on_b.latency, '', undefined, checks(baseline.get_me_on_b)),
    ],
  );
  console.log(
    '\nlatencies by this process\'s clock, from sending the change to A until the first poll that showed it (every ' +
      `${settings.pollMs} ms: they\n` +
      'include up to one poll interval and one poll request); "server": PostgreSQL\'s clock from the cancel transaction to\n' +
      'the run\'s end on B. Without NOTIFY a cancellation waits for the lease renewal (every 5 s by default), a revocation\n' +
      'for the key cache to expire (30 s).',
  );

  results.goals.push(
    goalMax('cancel_p95', {
      value: cancel.latency.p95,
      max: GOALS.cancelP95Ms,
      valid: cancel.valid,
      detail: `cancel through A of a run on B's worker, until GET shows cancelled: p95 ${formatNumber(cancel.latency.p95, 1)} ms (p50 ${formatNumber(cancel.latency.p50, 1)}, max ${formatNumber(cancel.latency.max, 1)}, n=${cancel.latency.count}; goal p95 < ${GOALS.cancelP95Ms} ms; plain GET p50 ${formatNumber(baseline.get_run_on_a.latency.p50, 2)} ms, ratio ${formatRatio(cancel.ratio_p50_to_baseline)})${noisy}`,
    }),
    goalMax('revocation_p95', {
      value: revocation.latency.p95,
      max: GOALS.revocationP95Ms,
      valid: revocation.valid,
      detail: `key revoked through A, until it gets 401 on B: p95 ${formatNumber(revocation.latency.p95, 1)} ms (p50 ${formatNumber(revocation.latency.p50, 1)}, max ${formatNumber(revocation.latency.max, 1)}, n=${revocation.latency.count}; goal p95 < ${GOALS.revocationP95Ms} ms; plain GET /v1/me p50 ${formatNumber(baseline.get_me_on_b.latency.p50, 2)} ms, ratio ${formatRatio(revocation.ratio_p50_to_baseline)})${noisy}`,
    }),
  );
  console.log('');
  printGoals(NAME, results.goals);
  for (const note of results.notes) console.log(`note: ${note}`);

  results.errors.push(...[cancel, revocation, baseline.get_run_on_a, baseline.get_me_on_b].flatMap((s) => s.problems));
  results.valid = results.goals.every((g) => g.status !== 'INVALID') && results.errors.length === 0;
  const file = writeResults(NAME, results);
  console.log(`\nresults: ${file}`);
  return results.valid ? 0 : 1;
}

function elapsedMs(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function expectStatus(res, status, what) {
  if (res.status !== status) throw new Error(`${what} answered ${res.status}, expected ${status}: ${res.text.slice(0, 300)}`);
}

/** Bootstraps the fresh instance through A; runs one echo run end to end (it also warms B's worker). */
async function setUp(a, secrets) {
  const boot = await a.request('POST', '/v1/bootstrap', {
    json: { bootstrap_token: secrets.bootstrapToken, admin_email: 'bench@example.com', admin_password: `bench-${secrets.secretKey}`, tenant_name: 'bench-propagation' },
  });
  expectStatus(boot, 201, 'POST /v1/bootstrap');
  const auth = { authorization: `Bearer ${boot.body.api_key.key}` };
  const created = await a.request('POST', '/v1/runs', { headers: auth, json: { agent: 'echo', input: { hello: 'propagation' } } });
  expectStatus(created, 201, 'POST /v1/runs');
  const done = await a.request('GET', `/v1/runs/${created.body.id}/wait?timeout=30`, { headers: auth, timeoutMs: 40_000 });
  expectStatus(done, 200, 'GET /v1/runs/{id}/wait');
  if (done.body.status !== 'succeeded') throw new Error(`a first echo run ended ${done.body.status}`);
  return { auth, tenantId: boot.body.tenant.id, runId: created.body.id };
}

/** Polls `request` until `done(res)` holds; resolves to that response, or throws after `giveUpMs`. */
async function pollUntil(request, done, giveUpMs, what) {
  const deadline = Date.now() + giveUpMs;
  for (;;) {
    const res = await request();
    if (done(res)) return res;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${giveUpMs / 1000} s (last answer ${res.status}: ${res.text.slice(0, 200)})`);
    if (settings.pollMs > 0) await sleep(settings.pollMs);
  }
}

/** One cancellation: a 10-minute echo run running on B, cancelled through A, polled on A until it is cancelled. */
async function cancelSample(a, auth) {
  const created = await a.request('POST', '/v1/runs', { headers: auth, json: { agent: 'echo', input: { delay_ms: 600_000 } } });
  expectStatus(created, 201, 'POST /v1/runs');
  const id = created.body.id;
  const get = () => a.request('GET', `/v1/runs/${id}`, { headers: auth });
  await pollUntil(get, (res) => res.status !== 200 || res.body?.status !== 'queued', 30_000, `run ${id} starting`).then((res) => {
    if (res.status !== 200 || res.body.status !== 'running') throw new Error(`run ${id} did not start: ${res.status} ${res.text.slice(0, 200)}`);
  });
  const t0 = process.hrtime.bigint();
  const cancel = await a.request('POST', `/v1/runs/${id}/cancel`, { headers: auth });
  const requestMs = elapsedMs(t0);
  expectStatus(cancel, 202, `POST /v1/runs/${id}/cancel`);
  const end = await pollUntil(get, (res) => res.status !== 200 || res.body?.status !== 'running', CANCEL_GIVE_UP_MS, `run ${id} ending after its cancel`);
  const ms = elapsedMs(t0);
  if (end.status !== 200 || end.body.status !== 'cancelled') throw new Error(`run ${id} ended ${end.status} ${end.body?.status}, not cancelled`);
  return { id, ms, requestMs };
}

/** One revocation: a key verified (cached) on B, revoked through A, polled on B until it is refused. */
async function revocationSample(a, b, auth, i) {
  const created = await a.request('POST', '/v1/api-keys', { headers: auth, json: { name: `bench-revoke-${i}`, scopes: ['runs:read'] } });
  expectStatus(created, 201, 'POST /v1/api-keys');
  const keyAuth = { authorization: `Bearer ${created.body.key}` };
  const me = () => b.request('GET', '/v1/me', { headers: keyAuth });
  for (let k = 0; k < 2; k++) expectStatus(await me(), 200, 'GET /v1/me on B with the new key');
  const t0 = process.hrtime.bigint();
  const revoked = await a.request('DELETE', `/v1/api-keys/${created.body.id}`, { headers: auth });
  const requestMs = elapsedMs(t0);
  expectStatus(revoked, 200, 'DELETE /v1/api-keys/{id}');
  const refused = await pollUntil(me, (res) => res.status !== 200, REVOCATION_GIVE_UP_MS, `key ${created.body.id} refused on B`);
  const ms = elapsedMs(t0);
  if (refused.status !== 401) throw new Error(`the revoked key got ${refused.status} on B, not 401: ${refused.text.slice(0, 200)}`);
  return { id: created.body.id, ms, requestMs };
}

/** `settings.baseline` sequential requests, each expected to answer `status`. */
async function baselineOf(request, status) {
  const samples = [];
  const problems = [];
  for (let i = 0; i < settings.baseline && !isStopping(); i++) {
    const res = await request();
    if (res.status !== status) {
      if (problems.length < 5) problems.push(`baseline request answered ${res.status}: ${res.text.slice(0, 200)}`);
      continue;
    }
    samples.push(res.ms);
  }
  return { latency: statsOf(samples), problems, valid: problems.length === 0 && samples.length === settings.baseline };
}

/** latencyStats of `samples` (ms) with their 95th percentile (nearest rank) as `p95`. */
function statsOf(samples) {
  const sorted = samples.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((x, y) => x - y);
  const p95 = quantile(sorted, 0.95);
  return { ...latencyStats(sorted), p95: p95 === null ? null : Math.round(p95 * 100) / 100 };
}

/** The statistics of a measured set (`ms` of each sample), its validity, and the extra figures given. */
function summarize(set, extra) {
  const values = set.samples.map((s) => s.ms);
  return {
    latency: statsOf(values),
    samples_ms: values.map((v) => Math.round(v * 100) / 100),
    problems: set.problems,
    valid: set.problems.length === 0 && set.samples.length > 0,
    ...extra,
  };
}
