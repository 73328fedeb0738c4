// Issue 4's benchmark.
// (1) Usage reads on a tenant with 1M usage records beside one with 100k, in the same run: latency of
//     `GET /v1/usage?granularity=day&from=<30 days ago>` (31 daily buckets) and of `GET /v1/usage/summary`. Goals: p50
//     under 50 ms on the 1M tenant, and the 1M/100k p50 ratio near 1 (at most 1.25x: reads must not depend on the
//     record count).
// (2) Throughput of an authenticated GET (`GET /v1/me` with an API key) on the hub with limits on beside the hub with
//     limits off, in the same run. Goal: on >= 0.9x off (req/s). The plans get a requests_per_minute nothing reaches,
//     so no request is refused: the figure is the cost of counting (Redis when REDIS_URL is set, else PostgreSQL).
//
// Seeding: the two tenants are created through the API (POST /v1/bootstrap, then POST /v1/admin/tenants with the
// instance admin's key, and three API keys each); their usage records are inserted in bulk as the database owner
// (INSERT ... SELECT generate_series, spread evenly over the last 90 days, five agents, three keys), and the hourly and
// daily rollups computed from them with INSERT ... SELECT ... GROUP BY (dims all, agent, api_key), as the hub would
// have kept them; the period's quota counter too. The reads are then checked against direct sums of the records.
//
// Latency is measured by sequential requests (one at a time, keep-alive) timed in this process with a high-resolution
// clock, the four targets interleaved request by request so that other work on the machine hits them alike.
// The servers run in a child process (bench/servers/hub-server.js); this process is the client.
//
// Environment: BENCH_USAGE_RECORDS (default 1000000) and BENCH_USAGE_RECORDS_SMALL (default 100000),
// BENCH_USAGE_REQUESTS (measured requests per read target, default 2000), BENCH_DURATION, BENCH_WARMUP,
// BENCH_CONNECTIONS, BENCH_ROUNDS (the throughput part, default 6: limits on and off alternate, which goes first
// alternates too, medians reported), REDIS_URL, DATABASE_URL (a fresh database is created on it and dropped; unset: embedded PostgreSQL),
// BENCH_CPU_PROF=1 (profile the hub during the reads and during each first throughput run), BENCH_TIMEOUT_S.
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
// The shards the hub spreads each rollup row over. Seeded as the hub leaves them: the buckets still open spread over
// the shards, the closed ones folded into shard 0 (gcorp_compact_rollups, every minute).
import { ROLLUP_SHARDS } from '../packages/server/dist/services/usage.js';
import {
  BENCH_DIR,
  RESULTS_DIR,
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
  loadSettings,
  machineCpuMeter,
  makeTempDir,
  medianRun,
  onCleanup,
  pgBackendCpuMeter,
  printGoals,
  printProfileSummary,
  printTable,
  processCpuMeter,
  ratio,
  redactUrl,
  runBench,
  scrubHubEnv,
  startPostgres,
  startServerChild,
  summarizeCpuProfile,
  warmAndMeasure,
  withPgClient,
  withTimeout,
  writeResults,
} from './lib.js';

const NAME = 'usage';
const SERVER = join(BENCH_DIR, 'servers', 'hub-server.js');
const GOALS = { p50Ms: 50, countRatioMax: 1.25, limitsOnVsOff: 0.9 };
/** A requests_per_minute no benchmark reaches: every request is counted, none refused. */
const PLAN_OVERRIDES = { requests_per_minute: 1_000_000_000 };
const AGENTS = ['echo', 'code-reviewer', 'test-writer', 'incident-triage', 'release-notes'];
const DAYS = 90;

const settings = {
  ...loadSettings(),
  // The limits on/off comparison runs in pairs, alternating which goes first: 6 rounds by default, so each order
  // comes three times and one or two noisy runs do not decide the goal.
  rounds: envInt('BENCH_ROUNDS', 6, { min: 1, max: 20 }),
  records: envInt('BENCH_USAGE_RECORDS', 1_000_000, { min: 1000, max: 20_000_000 }),
  recordsSmall: envInt('BENCH_USAGE_RECORDS_SMALL', 100_000, { min: 1000, max: 20_000_000 }),
  requests: envInt('BENCH_USAGE_REQUESTS', 2000, { min: 10, max: 100_000 }),
};
settings.readWarmup = Math.min(100, Math.max(10, Math.round(settings.requests / 20)));
const seedMs = 120_000 + Math.round(((settings.records + settings.recordsSmall) / 1_000_000) * 600_000);
const readsMs = 60_000 + 4 * (settings.requests + settings.readWarmup) * 50;
const perThroughputRun = settings.warmup + settings.duration + 45;
const timeoutMs =
  envInt('BENCH_TIMEOUT_S', Math.round(240 + seedMs / 1000 + readsMs / 1000 + settings.rounds * 2 * perThroughputRun), { min: 30, max: 4 * 3600 }) * 1000;

await runBench(NAME, main, { timeoutMs });

async function main() {
  const redisUrl = process.env.REDIS_URL?.trim() || undefined;
  delete process.env.REDIS_URL; // only explicit settings reach the servers
  const removedEnv = scrubHubEnv();
  const tmpDir = makeTempDir('gcorp-bench-usage-');
  const secrets = hubSecrets();
  const log = (line) => console.log(`[usage] ${line}`);
  const results = {
    module: NAME,
    started_at: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    load_average_1m: { before: loadavg()[0], after: null },
    settings: {
      records: settings.records,
      records_small: settings.recordsSmall,
      requests_per_read_target: settings.requests,
      read_warmup: settings.readWarmup,
      duration_s: settings.duration,
      warmup_s: settings.warmup,
      connections: settings.connections,
      rounds: settings.rounds,
      cpu_profile: settings.cpuProfile,
      plan_overrides: PLAN_OVERRIDES,
    },
    postgres: null,
    rate_limit_store: redisUrl ? 'redis' : 'postgres',
    seeding: {},
    reads: {},
    throughput: {},
    ratios: {},
    goals: [],
    notes: [],
    errors: [],
    profiles: {},
    valid: false,
  };
  log(
    `tenants with ${settings.records} and ${settings.recordsSmall} usage records; ${settings.requests} sequential requests per read target; ` +
      `GET /v1/me ${settings.warmup} s warm-up + ${settings.duration} s, ${settings.connections} connections, limits on and off` +
      (settings.rounds > 1 ? `, ${settings.rounds} rounds (median reported)` : ''),
  );
  results.machine_busy_pct_before = await checkMachineIdle(results.notes, log);
  const phase = async (what, fn) => {
    if (isStopping()) return false;
    try {
      await fn();
      return true;
    } catch (err) {
      if (isStopping()) return false;
      const message = err?.message ?? String(err);
      results.errors.push(`${what}: ${message}`);
      console.error(`[usage] ${what} failed: ${message}`);
      return false;
    }
  };

  const pg = await startPostgres({ secrets, tmpDir, appPassword: removedEnv.GCORP_DB_APP_PASSWORD, hubOptions: { workerConcurrency: 0 } });
  results.postgres = { mode: pg.mode, description: pg.description };
  log(`PostgreSQL: ${pg.description}`);
  // A database of its own (also in the embedded cluster), so Redis keys (gcorp:<database>:...) are this run's alone.
  const db = await createDatabase(pg.ownerUrl, { prefix: 'gcorp_bench_usage' });
  results.database = db.name;
  if (redisUrl) onCleanup(() => deleteRedisKeys(redisUrl, [`gcorp:${db.name}:*`]));
  log(`rate limits counted in ${redisUrl ? `Redis (${redactUrl(redisUrl)})` : 'PostgreSQL'}; database ${db.name}`);

  const hubDataDir = join(tmpDir, 'hub');
  const serve = (limitsEnabled) =>
    startServerChild(
      SERVER,
      {
        kind: 'hub',
        ownerUrl: db.url,
        appPassword: pg.appPassword,
        dataDir: hubDataDir,
        bootstrapToken: secrets.bootstrapToken,
        secretKey: secrets.secretKey,
        redisUrl,
        limitsEnabled,
        planOverrides: PLAN_OVERRIDES,
      },
      { label: `hub (limits ${limitsEnabled ? 'on' : 'off'})` },
    );

  // (1) Tenants, seeding, checks and the read latencies, on the hub with limits on (the default).
  const tenants = { large: { records: settings.records }, small: { records: settings.recordsSmall } };
  const from = new Date(Date.now() - 30 * 86_400_000).toISOString();
  const usagePath = `/v1/usage?granularity=day&from=${encodeURIComponent(from)}`;
  await phase('usage reads', async () => {
    const hub = await serve(true);
    const client = await httpClient(hub.url, { maxSockets: 4 });
    try {
      await setUpTenants(client, secrets, tenants);
      for (const [which, t] of Object.entries(tenants)) {
        log(`seeding ${t.records} usage records for the ${which} tenant ${t.id}`);
        const started = Date.now();
        results.seeding[which] = await withTimeout(seedUsage(db.url, t, which), seedMs, `seeding ${which}`);
        results.seeding[which].seconds = Math.round((Date.now() - started) / 100) / 10;
        log(`  ${results.seeding[which].records} records, ${results.seeding[which].rollups} rollup rows in ${results.seeding[which].seconds} s`);
      }
      for (const t of Object.values(tenants)) await checkReads(client, db.url, t, usagePath, from);
      log(`checked: both tenants' usage and summary equal direct sums of their records`);

      const targets = [
        { key: 'usage_large', tenant: tenants.large, path: usagePath, label: `GET /v1/usage day, 30 days (${settings.records} records)` },
        { key: 'usage_small', tenant: tenants.small, path: usagePath, label: `GET /v1/usage day, 30 days (${settings.recordsSmall} records)` },
        { key: 'summary_large', tenant: tenants.large, path: '/v1/usage/summary', label: `GET /v1/usage/summary (${settings.records} records)` },
        { key: 'summary_small', tenant: tenants.small, path: '/v1/usage/summary', label: `GET /v1/usage/summary (${settings.recordsSmall} records)` },
      ];
      log(`reads: ${settings.readWarmup} warm-up and ${settings.requests} measured requests per target, interleaved`);
      await interleaved(client, targets, settings.readWarmup);
      if (settings.cpuProfile) await hub.call('profile-start');
      await hub.call('cpu-start');
      const meter = processCpuMeter();
      const machine = machineCpuMeter();
      const samples = await withTimeout(interleaved(client, targets, settings.requests), readsMs, 'usage reads');
      const serverCpu = (await hub.call('cpu-stop')).cpuPct;
      results.reads_cpu = { server_pct_of_core: serverCpu, load_generator_pct_of_core: meter(), machine_pct_of_all_cpus: machine() };
      if (settings.cpuProfile) {
        const { file } = await hub.call('profile-stop', { file: join(RESULTS_DIR, 'profiles', 'usage-reads.cpuprofile') });
        results.profiles.reads = summarizeCpuProfile(file);
      }
      for (const t of targets) {
        const s = samples[t.key];
        results.reads[t.key] = { label: t.label, path: t.path, ...latencyStats(s.ms), statuses: s.statuses, problems: s.problems, valid: s.problems.length === 0 };
      }
    } finally {
      client.close();
      await hub.stop();
    }
  });

  // (2) GET /v1/me throughput, limits on beside limits off (each a fresh hub child, alternating order per round).
  const meKey = tenants.small.key;
  const runs = { on: [], off: [] };
  if (meKey) {
    for (let round = 1; round <= settings.rounds && !isStopping(); round++) {
      const order = round % 2 === 1 ? [true, false] : [false, true];
      for (const on of order) {
        const which = on ? 'on' : 'off';
        await phase(`GET /v1/me limits ${which}${settings.rounds > 1 ? ` (round ${round})` : ''}`, async () => {
          const hub = await serve(on);
          try {
            const auth = { authorization: `Bearer ${meKey}` };
            const check = await fetchCheck(hub.url, auth);
            if (check.status !== 200) throw new Error(`GET /v1/me answered ${check.status}: ${check.text.slice(0, 300)}`);
            if (on && !check.rateLimit) throw new Error('limits on, but GET /v1/me has no RateLimit header: the request was not counted');
            if (!on && check.rateLimit) throw new Error(`limits off, but GET /v1/me has a RateLimit header (${check.rateLimit})`);
            if (round === 1 && on) results.rate_limit_headers = { policy: check.policy, rateLimit: check.rateLimit };
            log(`${settings.rounds > 1 ? `round ${round}: ` : ''}measuring GET /v1/me, limits ${which}`);
            const profile = settings.cpuProfile && round === 1;
            const cpu = {};
            let meters;
            const run = await warmAndMeasure({
              url: `${hub.url}/v1/me`,
              headers: auth,
              settings,
              beforeMeasure: async () => {
                if (profile) await hub.call('profile-start');
                await hub.call('cpu-start');
                meters = { loadGenerator: processCpuMeter(), machine: machineCpuMeter(), postgres: await pgBackendCpuMeter(pg.ownerUrl, db.name) };
              },
              afterMeasure: async () => {
                cpu.server_pct_of_core = (await hub.call('cpu-stop')).cpuPct;
                cpu.load_generator_pct_of_core = meters.loadGenerator();
                cpu.postgres_pct_of_core = (await meters.postgres())?.pct_of_core ?? null;
                cpu.machine_pct_of_all_cpus = meters.machine();
                cpu.other_pct_of_core =
                  cpu.machine_pct_of_all_cpus === null || cpu.server_pct_of_core === null
                    ? null
                    : Math.max(
                        0,
                        Math.round(
                          cpu.machine_pct_of_all_cpus * availableParallelism() - cpu.server_pct_of_core - cpu.load_generator_pct_of_core - (cpu.postgres_pct_of_core ?? 0),
                        ),
                      );
                if (profile) {
                  const { file } = await hub.call('profile-stop', { file: join(RESULTS_DIR, 'profiles', `usage-me-limits-${which}.cpuprofile`) });
                  results.profiles[`me_limits_${which}`] = summarizeCpuProfile(file);
                }
              },
            });
            if (typeof cpu.server_pct_of_core === 'number' && run.reqPerSec > 0) {
              cpu.server_us_per_request = Math.round((cpu.server_pct_of_core * 10_000) / run.reqPerSec);
            }
            runs[which].push({ ...run, cpu });
            log(`  ${formatNumber(run.reqPerSec)} req/s, p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms${run.valid ? '' : `, INVALID: ${run.problems.join('; ')}`}`);
          } finally {
            await hub.stop();
          }
        });
      }
    }
  } else {
    results.errors.push('GET /v1/me throughput not measured: no tenant API key (set-up failed)');
  }
  if (isStopping()) return 1;
  for (const which of ['on', 'off']) {
    const m = medianRun(runs[which]);
    if (m) results.throughput[`limits_${which}`] = m;
  }

  // Report.
  results.load_average_1m.after = loadavg()[0];
  // With every server of the benchmark stopped: is something else keeping the machine busy?
  results.machine_busy_pct_after = await checkMachineIdle(results.notes, log, 'after');
  const r = results.reads;
  console.log('');
  if (Object.keys(results.seeding).length > 0) {
    printTable(
      [{ title: 'tenant' }, { title: 'records', align: 'right' }, { title: 'rollup rows', align: 'right' }, { title: 'seeded in s', align: 'right' }],
      Object.entries(results.seeding).map(([which, s]) => [which, s.records, s.rollups, formatNumber(s.seconds, 1)]),
    );
    console.log('');
  }
  printTable(
    [
      { title: 'read (sequential, keep-alive)' },
      { title: 'requests', align: 'right' },
      { title: 'p50 ms', align: 'right' },
      { title: 'p90 ms', align: 'right' },
      { title: 'p99 ms', align: 'right' },
      { title: 'max ms', align: 'right' },
      { title: 'checks' },
    ],
    ['usage_large', 'usage_small', 'summary_large', 'summary_small'].map((key) => {
      const x = r[key];
      if (!x) return [key, '-', '-', '-', '-', '-', 'not measured'];
      return [x.label, x.count, formatNumber(x.p50, 2), formatNumber(x.p90, 2), formatNumber(x.p99, 2), formatNumber(x.max, 1), x.valid ? 'all 200' : `INVALID: ${x.problems.slice(0, 3).join('; ')}`];
    }),
  );
  if (results.reads_cpu) {
    console.log(
      `cpu while reading: server ${Math.round(results.reads_cpu.server_pct_of_core ?? 0)}% of a core, client ${Math.round(results.reads_cpu.load_generator_pct_of_core ?? 0)}%, machine ${Math.round(results.reads_cpu.machine_pct_of_all_cpus ?? 0)}% of all CPUs`,
    );
  }
  const on = results.throughput.limits_on;
  const off = results.throughput.limits_off;
  console.log('');
  printTable(
    [
      { title: 'GET /v1/me (API key)' },
      { title: 'req/s', align: 'right' },
      ...(settings.rounds > 1 ? [{ title: 'min-max', align: 'right' }] : []),
      { title: 'p50 ms', align: 'right' },
      { title: 'p99 ms', align: 'right' },
      { title: 'server cpu', align: 'right' },
      { title: 'cpu us/req', align: 'right' },
      { title: 'pg cpu', align: 'right' },
      { title: 'loadgen cpu', align: 'right' },
      { title: 'other cpu', align: 'right' },
      { title: 'responses' },
    ],
    [
      ['limits on', on],
      ['limits off', off],
    ].map(([label, x]) => {
      const spread = settings.rounds > 1 ? [x ? `${formatNumber(x.reqPerSecMin)}-${formatNumber(x.reqPerSecMax)}` : '-'] : [];
      if (!x) return [label, '-', ...spread, '-', '-', '-', '-', '-', '-', '-', 'not measured'];
      const pct = (v) => (typeof v === 'number' ? `${Math.round(v)}%` : '-');
      return [
        `${label}${label === 'limits on' ? ` (${results.rate_limit_store})` : ''}`,
        formatNumber(x.reqPerSec),
        ...spread,
        formatNumber(x.latency.p50),
        formatNumber(x.latency.p99),
        pct(x.cpu.server_pct_of_core),
        x.cpu.server_us_per_request ?? '-',
        pct(x.cpu.postgres_pct_of_core),
        pct(x.cpu.load_generator_pct_of_core),
        pct(x.cpu.other_pct_of_core),
        x.valid ? `${x.responses} x 200${settings.rounds > 1 ? ' (median round)' : ''}` : `INVALID: ${x.problems.join('; ')}`,
      ];
    }),
  );

  const readRatio = (a, b) => ({ p50: ratio(r[a]?.p50, r[b]?.p50), p99: ratio(r[a]?.p99, r[b]?.p99), valid: Boolean(r[a]?.valid && r[b]?.valid) });
  results.ratios.usage_large_vs_small = readRatio('usage_large', 'usage_small');
  results.ratios.summary_large_vs_small = readRatio('summary_large', 'summary_small');
  results.ratios.me_limits_on_vs_off = {
    reqPerSec: ratio(on?.reqPerSec, off?.reqPerSec),
    cpuPerRequest: ratio(off?.cpu.server_us_per_request, on?.cpu.server_us_per_request),
    valid: Boolean(on?.valid && off?.valid),
  };
  const lr = results.ratios.me_limits_on_vs_off;
  console.log('');
  console.log(
    'cpu: % of one core while measured, by the hub, by the PostgreSQL backends of its database, by this process (the\n' +
      'client) and by everything else (Redis, other programs); cpu us/req: the hub\'s CPU microseconds per request',
  );
  printTable(
    [{ title: 'ratio' }, { title: 'value', align: 'right' }, { title: 'goal', align: 'right' }],
    [
      [`/v1/usage p50, ${settings.records} / ${settings.recordsSmall} records`, formatRatio(results.ratios.usage_large_vs_small.p50), `<= ${GOALS.countRatioMax}x`],
      [`/v1/usage/summary p50, ${settings.records} / ${settings.recordsSmall} records`, formatRatio(results.ratios.summary_large_vs_small.p50), `<= ${GOALS.countRatioMax}x`],
      ['/v1/me req/s, limits on / off', formatRatio(lr.reqPerSec), `>= ${GOALS.limitsOnVsOff}x`],
      ['/v1/me server cpu per request, off / on', formatRatio(lr.cpuPerRequest), '(info)'],
    ],
  );
  console.log('');

  results.noisy = results.notes.some((n) => n.includes('figures are noisy'));
  const noisy = results.noisy ? ' [noisy run: see notes]' : '';
  const recs = (n) => (n >= 1_000_000 && n % 1_000_000 === 0 ? `${n / 1_000_000}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));
  const L = recs(settings.records);
  const S = recs(settings.recordsSmall);
  results.goals = [
    goalMax('usage_day_p50', {
      value: r.usage_large?.p50 ?? null,
      max: GOALS.p50Ms,
      valid: Boolean(r.usage_large?.valid),
      detail: `GET /v1/usage (30 daily buckets) on ${L} records: p50 ${formatNumber(r.usage_large?.p50, 2)} ms, p99 ${formatNumber(r.usage_large?.p99, 2)} ms (goal p50 < ${GOALS.p50Ms} ms)${noisy}`,
    }),
    goalMax('summary_p50', {
      value: r.summary_large?.p50 ?? null,
      max: GOALS.p50Ms,
      valid: Boolean(r.summary_large?.valid),
      detail: `GET /v1/usage/summary on ${L} records: p50 ${formatNumber(r.summary_large?.p50, 2)} ms, p99 ${formatNumber(r.summary_large?.p99, 2)} ms (goal p50 < ${GOALS.p50Ms} ms)${noisy}`,
    }),
    goalMax('usage_day_count_independent', {
      value: results.ratios.usage_large_vs_small.p50,
      max: GOALS.countRatioMax,
      valid: results.ratios.usage_large_vs_small.valid,
      detail: `GET /v1/usage p50 ${L}/${S} records = ${formatRatio(results.ratios.usage_large_vs_small.p50)} (${formatNumber(r.usage_large?.p50, 2)} vs ${formatNumber(r.usage_small?.p50, 2)} ms; goal <= ${GOALS.countRatioMax}x)${noisy}`,
    }),
    goalMax('summary_count_independent', {
      value: results.ratios.summary_large_vs_small.p50,
      max: GOALS.countRatioMax,
      valid: results.ratios.summary_large_vs_small.valid,
      detail: `GET /v1/usage/summary p50 ${L}/${S} records = ${formatRatio(results.ratios.summary_large_vs_small.p50)} (${formatNumber(r.summary_large?.p50, 2)} vs ${formatNumber(r.summary_small?.p50, 2)} ms; goal <= ${GOALS.countRatioMax}x)${noisy}`,
    }),
    goal('me_limits_on_vs_off', {
      value: lr.reqPerSec,
      min: GOALS.limitsOnVsOff,
      valid: lr.valid,
      detail: `GET /v1/me req/s with limits on (${results.rate_limit_store}) = ${formatRatio(lr.reqPerSec)} limits off (${formatNumber(on?.reqPerSec)} vs ${formatNumber(off?.reqPerSec)}; goal >= ${GOALS.limitsOnVsOff}x; server cpu/req off/on ${formatRatio(lr.cpuPerRequest)})${noisy}`,
    }),
  ];
  if (settings.cpuProfile) results.notes.push('the hub was CPU-profiled while measured: figures are lower than unprofiled');
  printGoals(NAME, results.goals);
  for (const note of results.notes) console.log(`note: ${note}`);
  for (const [key, summary] of Object.entries(results.profiles)) printProfileSummary(`CPU profile ${key}`, summary);

  results.valid = results.goals.every((g) => g.status !== 'INVALID') && results.errors.length === 0;
  const file = writeResults(NAME, results);
  console.log(`\nresults: ${file}`);
  return results.valid ? 0 : 1;
}

function expectStatus(res, status, what) {
  if (res.status !== status) throw new Error(`${what} answered ${res.status}, expected ${status}: ${res.text.slice(0, 400)}`);
}

/**
 * Bootstraps the hub, creates the two bench tenants as the instance admin (POST /v1/admin/tenants) and three API keys
 * in each; fills `tenants.<which>` with `{ id, key, keyIds }`.
 */
async function setUpTenants(client, secrets, tenants) {
  const boot = await client.request('POST', '/v1/bootstrap', {
    json: { bootstrap_token: secrets.bootstrapToken, admin_email: 'bench@example.com', admin_password: `bench-${secrets.secretKey}`, tenant_name: 'bench-admin' },
  });
  expectStatus(boot, 201, 'POST /v1/bootstrap');
  const admin = { authorization: `Bearer ${boot.body.api_key.key}` };
  for (const [which, t] of Object.entries(tenants)) {
    const created = await client.request('POST', '/v1/admin/tenants', {
      headers: admin,
      json: { name: `bench-usage-${which}`, plan: 'business', owner_email: `owner-${which}@example.com`, owner_password: `bench-${secrets.secretKey}` },
    });
    expectStatus(created, 201, 'POST /v1/admin/tenants');
    t.id = created.body.tenant.id;
    const owner = { authorization: `Bearer ${created.body.api_key.key}` };
    t.keyIds = [];
    for (let i = 1; i <= 3; i++) {
      const key = await client.request('POST', '/v1/api-keys', { headers: owner, json: { name: `bench-ci-${i}`, scopes: ['runs:read', 'runs:write', 'usage:read'] } });
      expectStatus(key, 201, 'POST /v1/api-keys');
      t.keyIds.push(key.body.id);
      if (i === 1) t.key = key.body.key;
    }
  }
}

/**
 * Seeds `t.records` usage records of tenant `t.id` in one transaction as the database owner, spread evenly over the
 * last 90 days (so every hour has records), then its hourly and daily rollups (dims all, agent, api_key) and the
 * period's quota counter from them, then VACUUM (ANALYZE). Buckets are in UTC, as the hub truncates them.
 */
async function seedUsage(ownerUrl, t, tag) {
  return withPgClient(
    ownerUrl,
    async (c) => {
      await c.query(`SET TIME ZONE 'UTC'`);
      await c.query('BEGIN');
      let inserted;
      let hourly;
      let daily;
      try {
        // The owner is a superuser in the benchmark's set-ups (RLS does not apply); the tenant setting makes the
        // policies pass for an owner that is not.
        await c.query(`select set_config('app.tenant_id', $1, true)`, [t.id]);
        inserted = await c.query(
          `insert into usage_records (run_id, tenant_id, agent_name, api_key_id, user_id, status, runs, input_tokens, output_tokens, run_seconds, recorded_at)
           select 'run_bench' || $5 || lpad(g::text, 9, '0'), $1,
                  ($3::text[])[1 + g % 5], ($4::text[])[1 + (g / 5) % 3], null,
                  case when g % 50 = 0 then 'failed' else 'succeeded' end, 1,
                  (g::bigint * 7919) % 4000, (g::bigint * 104729) % 2000, (g % 300) / 10.0,
                  now() - interval '1 second' - make_interval(secs => ${DAYS} * 86400.0 * g / $2::int)
             from generate_series(1, $2::int) g`,
          [t.id, t.records, AGENTS, t.keyIds, tag],
        );
        hourly = await c.query(
          `insert into usage_rollups (tenant_id, granularity, dim, dim_key, bucket, shard, runs, input_tokens, output_tokens, run_seconds)
           select r.tenant_id, 'hour', d.dim,
                  case d.dim when 'all' then '' when 'agent' then r.agent_name else r.api_key_id end,
                  date_trunc('hour', r.recorded_at),
                  case when r.recorded_at >= date_trunc('hour', now()) - interval '1 hour'
                       then abs(hashtext(r.run_id)) % ${ROLLUP_SHARDS} else 0 end,
                  sum(r.runs), sum(r.input_tokens), sum(r.output_tokens), sum(r.run_seconds)
             from usage_records r cross join (values ('all'), ('agent'), ('api_key')) d(dim)
            where r.tenant_id = $1 and (d.dim <> 'api_key' or r.api_key_id is not null)
            group by 1, 2, 3, 4, 5, 6`,
          [t.id],
        );
        daily = await c.query(
          `insert into usage_rollups (tenant_id, granularity, dim, dim_key, bucket, shard, runs, input_tokens, output_tokens, run_seconds)
           select tenant_id, 'day', dim, dim_key, date_trunc('day', bucket), shard, sum(runs), sum(input_tokens), sum(output_tokens), sum(run_seconds)
             from usage_rollups where tenant_id = $1 and granularity = 'hour'
            group by 1, 2, 3, 4, 5, 6`,
          [t.id],
        );
        await c.query(
          `insert into quota_counters (tenant_id, period_start, runs_admitted)
           select $1, date_trunc('month', now()), count(*) from usage_records where tenant_id = $1 and recorded_at >= date_trunc('month', now())
           on conflict (tenant_id, period_start, shard) do update set runs_admitted = excluded.runs_admitted`,
          [t.id],
        );
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      // VACUUM too, not only ANALYZE: a million fresh rows would otherwise wake autovacuum (its insert threshold)
      // during the measurements that follow.
      await c.query('VACUUM (ANALYZE) usage_records');
      await c.query('VACUUM (ANALYZE) usage_rollups');
      const rollups = await c.query('select count(*)::int as n from usage_rollups where tenant_id = $1', [t.id]);
      return { records: inserted.rowCount, hourly_rollups: hourly.rowCount, daily_rollups: daily.rowCount, rollups: rollups.rows[0].n };
    },
    { statementTimeoutMs: 900_000 },
  );
}

/** Checks that the hub's answers equal direct sums of the seeded records (so the reads measured are the right ones). */
async function checkReads(client, ownerUrl, t, usagePath, from) {
  const auth = { authorization: `Bearer ${t.key}` };
  const usage = await client.request('GET', usagePath, { headers: auth });
  expectStatus(usage, 200, `GET ${usagePath}`);
  const summary = await client.request('GET', '/v1/usage/summary', { headers: auth });
  expectStatus(summary, 200, 'GET /v1/usage/summary');
  const direct = await withPgClient(ownerUrl, async (c) => {
    await c.query(`SET TIME ZONE 'UTC'`);
    await c.query(`select set_config('app.tenant_id', $1, false)`, [t.id]);
    const range = await c.query(
      `select count(*)::int as runs, coalesce(sum(input_tokens), 0)::bigint as input_tokens from usage_records
        where tenant_id = $1 and recorded_at >= date_trunc('day', $2::timestamptz) and recorded_at <= $3::timestamptz`,
      [t.id, from, usage.body.to],
    );
    const period = await c.query(
      `select count(*)::int as runs from usage_records where tenant_id = $1 and recorded_at >= date_trunc('month', now())`,
      [t.id],
    );
    return { range: range.rows[0], period: period.rows[0] };
  });
  const buckets = usage.body.data ?? [];
  if (buckets.length < 30 || buckets.length > 32) throw new Error(`GET /v1/usage answered ${buckets.length} buckets, expected 31`);
  const runs = buckets.reduce((a, b) => a + b.runs, 0);
  const inputTokens = buckets.reduce((a, b) => a + b.input_tokens, 0);
  if (runs !== direct.range.runs || inputTokens !== Number(direct.range.input_tokens)) {
    throw new Error(`GET /v1/usage sums ${runs} runs / ${inputTokens} input tokens, the records ${direct.range.runs} / ${direct.range.input_tokens}`);
  }
  if (summary.body.usage?.runs !== direct.period.runs) {
    throw new Error(`GET /v1/usage/summary counts ${summary.body.usage?.runs} runs this period, the records ${direct.period.runs}`);
  }
}

/**
 * `count` sequential requests to each target, interleaved (target 1, 2, 3, 4, 1, 2, ...), one at a time on one
 * keep-alive connection. Resolves to `{ [key]: { ms: [...], statuses, problems } }`.
 */
async function interleaved(client, targets, count) {
  const out = Object.fromEntries(targets.map((t) => [t.key, { ms: [], statuses: {}, problems: [] }]));
  for (let i = 0; i < count && !isStopping(); i++) {
    for (const t of targets) {
      const o = out[t.key];
      try {
        const res = await client.request('GET', t.path, { headers: { authorization: `Bearer ${t.tenant.key}` }, timeoutMs: 10_000 });
        o.statuses[res.status] = (o.statuses[res.status] ?? 0) + 1;
        if (res.status === 200) o.ms.push(res.ms);
        else if (o.problems.length < 10) o.problems.push(`${res.status}: ${res.text.slice(0, 200)}`);
      } catch (err) {
        if (o.problems.length < 10) o.problems.push(err?.message ?? String(err));
      }
    }
  }
  return out;
}

/** One request to check what a measured run will get: the status and the rate-limit headers. */
async function fetchCheck(url, auth) {
  const client = await httpClient(url, { maxSockets: 1 });
  try {
    const res = await client.request('GET', '/v1/me', { headers: auth });
    return { status: res.status, text: res.text, policy: res.headers['ratelimit-policy'], rateLimit: res.headers.ratelimit };
  } finally {
    client.close();
  }
}
