// Issue 2's benchmark: req/s and latency of `GET /v1/me` (API key) and `GET /v1/api-keys/{id}` on the hub, each beside
// a bare Fastify route (the same /v1/me body, no work) and a bare Fastify + pg route (the same transaction and query as
// the hub's getApiKey), all measured in one run. Goals: /v1/me >= 0.5x bare Fastify, /v1/api-keys/{id} >= 0.8x bare
// Fastify+pg (req/s).
//
// The servers run one at a time in a child process (bench/servers/core-server.js); this process only generates load
// (autocannon), so on a 2-core machine each gets a core (PostgreSQL shares them). Every response must be 200: a run
// with other statuses or errors is reported INVALID, not as a fast result.
//
// Environment: BENCH_DURATION (s, default 5), BENCH_WARMUP (s, default 1), BENCH_CONNECTIONS (default 16),
// BENCH_ROUNDS (default 1: measure every target that many times, alternating servers, and report the median round),
// DATABASE_URL (a fresh database is created on it and dropped; unset: embedded PostgreSQL), BENCH_CPU_PROF=1 (profile
// the server during each measured run with V8's sampling profiler, write bench/results/profiles/core-<target>.cpuprofile
// and print its top frames; the figures of such a run are lower),
// BENCH_TIMEOUT_S (hard limit of the whole run).
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import {
  BENCH_DIR,
  RESULTS_DIR,
  envInt,
  formatNumber,
  formatRatio,
  goal,
  hubSecrets,
  isStopping,
  loadSettings,
  machineCpuMeter,
  makeTempDir,
  medianRun,
  printGoals,
  printProfileSummary,
  printTable,
  processCpuMeter,
  ratio,
  request,
  runBench,
  scrubHubEnv,
  sleep,
  startPostgres,
  startServerChild,
  summarizeCpuProfile,
  warmAndMeasure,
  writeResults,
} from './lib.js';

const NAME = 'core';
const SERVER = join(BENCH_DIR, 'servers', 'core-server.js');
const GOALS = { me: 0.5, apiKey: 0.8 };

const settings = loadSettings();
const perRun = settings.warmup + settings.duration + 15;
const timeoutMs = envInt('BENCH_TIMEOUT_S', 240 + settings.rounds * (4 * perRun + 30), { min: 30, max: 7200 }) * 1000;

await runBench(NAME, main, { timeoutMs });

async function main() {
  const startedAt = new Date();
  const removedEnv = scrubHubEnv();
  const tmpDir = makeTempDir('gcorp-bench-core-');
  const secrets = hubSecrets();
  const results = {
    module: NAME,
    started_at: startedAt.toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    load_average_1m: { before: loadavg()[0], after: null },
    settings: {
      duration_s: settings.duration,
      warmup_s: settings.warmup,
      connections: settings.connections,
      rounds: settings.rounds,
      cpu_profile: settings.cpuProfile,
    },
    postgres: null,
    targets: {},
    ratios: {},
    goals: [],
    notes: [],
    errors: [],
    profiles: {},
    valid: false,
  };
  const log = (line) => console.log(`[core] ${line}`);
  log(
    `warm-up ${settings.warmup} s, measure ${settings.duration} s, ${settings.connections} connections per target` +
      (settings.rounds > 1 ? `, ${settings.rounds} rounds (median reported)` : ''),
  );
  // Other work on the machine skews every figure: sample its CPU use for a second before starting.
  const idleCheck = machineCpuMeter();
  await sleep(1000);
  results.machine_busy_pct_before = idleCheck();
  if (results.machine_busy_pct_before !== null && results.machine_busy_pct_before > 20) {
    const note = `the machine was already ${Math.round(results.machine_busy_pct_before)}% busy before the run (1-minute load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} CPUs): figures are noisy`;
    results.notes.push(note);
    log(`warning: ${note}`);
  }

  const pg = await startPostgres({ secrets, tmpDir, appPassword: removedEnv.GCORP_DB_APP_PASSWORD });
  results.postgres = { mode: pg.mode, description: pg.description };
  log(`PostgreSQL: ${pg.description}`);

  const serve = (kind, extra) =>
    startServerChild(SERVER, { kind, ownerUrl: pg.ownerUrl, appPassword: pg.appPassword, ...extra }, { label: `${kind} server` });
  const runs = { hub_me: [], bare_me: [], hub_api_key: [], bare_pg_api_key: [] };
  const measure = async (round, server, key, label, route, url, headers) => {
    log(`${settings.rounds > 1 ? `round ${round}: ` : ''}measuring ${label} ${route}`);
    const profile = settings.cpuProfile && round === 1; // one profile per target is enough
    const cpu = {};
    let meters;
    const run = await warmAndMeasure({
      url,
      headers,
      settings,
      beforeMeasure: async () => {
        if (profile) await server.call('profile-start');
        await server.call('cpu-start');
        meters = { loadGenerator: processCpuMeter(), machine: machineCpuMeter() };
      },
      afterMeasure: async () => {
        cpu.server_pct_of_core = (await server.call('cpu-stop')).cpuPct;
        cpu.load_generator_pct_of_core = meters.loadGenerator();
        cpu.machine_pct_of_all_cpus = meters.machine();
        // Everything else (PostgreSQL, other processes), in % of one core.
        cpu.other_pct_of_core =
          cpu.machine_pct_of_all_cpus === null || cpu.server_pct_of_core === null
            ? null
            : Math.max(0, Math.round(cpu.machine_pct_of_all_cpus * availableParallelism() - cpu.server_pct_of_core - cpu.load_generator_pct_of_core));
        cpu.server_us_per_request = null; // filled in below, once the run's req/s is known
        if (profile) {
          const { file } = await server.call('profile-stop', { file: join(RESULTS_DIR, 'profiles', `core-${key}.cpuprofile`) });
          results.profiles[key] = summarizeCpuProfile(file);
        }
      },
    });
    // Server CPU time per request: less sensitive than req/s to whatever else the machine is doing.
    if (typeof cpu.server_pct_of_core === 'number' && run.reqPerSec > 0) {
      cpu.server_us_per_request = Math.round((cpu.server_pct_of_core * 10_000) / run.reqPerSec);
    }
    runs[key].push({ label, route, ...run, cpu });
    // Bare Fastify uses no database: anything else busy meanwhile is another program competing for the CPUs.
    if (key === 'bare_me' && cpu.other_pct_of_core > 25) {
      results.notes.push(`other processes used ${cpu.other_pct_of_core}% of a core while bare Fastify was measured (round ${round}): figures are noisy`);
    }
    log(`  ${formatNumber(run.reqPerSec)} req/s, p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms${run.valid ? '' : `, INVALID: ${run.problems.join('; ')}`}`);
  };
  const phase = async (what, fn) => {
    if (isStopping()) return;
    try {
      await fn();
    } catch (err) {
      if (isStopping()) return;
      const message = err?.message ?? String(err);
      results.errors.push(`${what}: ${message}`);
      console.error(`[core] ${what} failed: ${message}`);
    }
  };

  // Filled by the hub's first round: the tenant, the API key the load uses (and its id), the real /v1/me body.
  const state = { tenantId: undefined, keyId: undefined, auth: undefined, meBody: undefined, meBodyIsStandIn: false };
  const hubDataDir = join(tmpDir, 'hub');

  for (let round = 1; round <= settings.rounds; round++) {
    const tag = settings.rounds > 1 ? ` (round ${round})` : '';

    // (a) The hub. First round: bootstrap, create the API key the load uses, check both routes answer 200.
    await phase(`hub${tag}`, async () => {
      const hub = await serve('hub', { dataDir: hubDataDir, bootstrapToken: secrets.bootstrapToken, secretKey: secrets.secretKey });
      try {
        if (!state.auth) await setUpHub(hub.url, secrets, state);
        await measure(round, hub, 'hub_me', 'hub', 'GET /v1/me', `${hub.url}/v1/me`, state.auth);
        await measure(round, hub, 'hub_api_key', 'hub', 'GET /v1/api-keys/{id}', `${hub.url}/v1/api-keys/${state.keyId}`, state.auth);
      } finally {
        await hub.stop();
      }
    });

    // (b) Bare Fastify answering the hub's /v1/me body (a stand-in of the same shape if the hub never answered it).
    await phase(`bare Fastify${tag}`, async () => {
      if (!state.meBody) throw new Error('no /v1/me body to serve (the hub phase failed before bootstrap)');
      const bare = await serve('bare', { meBody: state.meBody });
      try {
        const check = await request(`${bare.url}/me`);
        expectStatus(check, 200, 'bare GET /me');
        await measure(round, bare, 'bare_me', 'bare Fastify', 'GET /me', `${bare.url}/me`, {});
      } finally {
        await bare.stop();
      }
    });

    // (c) Bare Fastify + pg doing the hub's getApiKey transaction, as gcorp_app.
    await phase(`bare Fastify+pg${tag}`, async () => {
      if (!state.tenantId || !state.keyId) throw new Error('no tenant and key to read (the hub phase failed before creating them)');
      const barePg = await serve('bare-pg', { tenantId: state.tenantId });
      try {
        if (round === 1) {
          results.bare_pg_connected_as = barePg.info.connectedAs;
          if (barePg.info.connectedAs !== 'gcorp_app') {
            results.notes.push(`bare Fastify+pg connected with the owner URL, not as gcorp_app: ${barePg.info.connectFailures.join('; ')}`);
          }
          log(`bare Fastify+pg connects as ${barePg.info.connectedAs === 'gcorp_app' ? 'gcorp_app (the hub app role)' : 'the owner (gcorp_app failed)'}`);
        }
        const check = await request(`${barePg.url}/api-keys/${state.keyId}`);
        expectStatus(check, 200, 'bare-pg GET /api-keys/:id');
        if (check.body?.id !== state.keyId) throw new Error(`bare-pg read no key (RLS?): ${check.text.slice(0, 300)}`);
        await measure(round, barePg, 'bare_pg_api_key', 'bare Fastify+pg', 'GET /api-keys/:id', `${barePg.url}/api-keys/${state.keyId}`, {});
      } finally {
        await barePg.stop();
      }
    });
  }
  if (state.meBodyIsStandIn) {
    results.notes.push('bare Fastify served a stand-in /v1/me body built from the bootstrap response (the hub never answered /v1/me)');
  }
  if (isStopping()) return 1; // interrupted or timed out: nothing to report, cleanups are running
  for (const [key, list] of Object.entries(runs)) {
    const median = medianRun(list);
    if (median) results.targets[key] = median;
  }

  // Report.
  const t = results.targets;
  console.log('');
  printTable(
    [
      { title: 'target' },
      { title: 'route' },
      { title: 'req/s', align: 'right' },
      ...(settings.rounds > 1 ? [{ title: 'min-max', align: 'right' }] : []),
      { title: 'p50 ms', align: 'right' }, // autocannon records latency in whole milliseconds
      { title: 'p99 ms', align: 'right' },
      { title: 'bytes', align: 'right' },
      { title: 'server cpu', align: 'right' },
      { title: 'cpu us/req', align: 'right' },
      { title: 'loadgen cpu', align: 'right' },
      { title: 'other cpu', align: 'right' },
      { title: 'responses' },
    ],
    ['hub_me', 'bare_me', 'hub_api_key', 'bare_pg_api_key'].map((key) => {
      const r = t[key];
      const label = { hub_me: 'hub', bare_me: 'bare Fastify', hub_api_key: 'hub', bare_pg_api_key: 'bare Fastify+pg' }[key];
      const route = { hub_me: 'GET /v1/me', bare_me: 'GET /me', hub_api_key: 'GET /v1/api-keys/{id}', bare_pg_api_key: 'GET /api-keys/:id' }[key];
      const spread = settings.rounds > 1 ? [r ? `${formatNumber(r.reqPerSecMin)}-${formatNumber(r.reqPerSecMax)}` : '-'] : [];
      if (!r) return [label, route, '-', ...spread, '-', '-', '-', '-', '-', '-', '-', 'not measured'];
      const pct = (v) => (typeof v === 'number' ? `${Math.round(v)}%` : '-');
      return [
        label,
        route,
        formatNumber(r.reqPerSec),
        ...spread,
        formatNumber(r.latency.p50),
        formatNumber(r.latency.p99),
        r.bytesPerResponse,
        pct(r.cpu.server_pct_of_core),
        r.cpu.server_us_per_request,
        pct(r.cpu.load_generator_pct_of_core),
        pct(r.cpu.other_pct_of_core),
        r.valid ? `${r.responses} x 200${settings.rounds > 1 ? ' (median round)' : ''}` : `INVALID: ${r.problems.join('; ')}`,
      ];
    }),
  );
  console.log(
    'cpu: % of one core used while measured by the server, by the load generator and by everything else (PostgreSQL, other\n' +
      'processes), and the server\'s CPU microseconds per request; a server well under 100% was not the bottleneck',
  );

  const pair = (hubKey, bareKey) => {
    const a = t[hubKey];
    const b = t[bareKey];
    return {
      valid: Boolean(a?.valid && b?.valid),
      reqPerSec: ratio(a?.reqPerSec, b?.reqPerSec),
      p99: ratio(a?.latency.p99, b?.latency.p99),
      p50: ratio(a?.latency.p50, b?.latency.p50),
      // bare's server CPU per request over the hub's: the req/s ratio if each server had a core to itself; steadier
      // than req/s when other programs compete for the CPUs.
      cpuPerRequest: ratio(b?.cpu.server_us_per_request, a?.cpu.server_us_per_request),
    };
  };
  results.ratios.me_vs_bare_fastify = pair('hub_me', 'bare_me');
  results.ratios.api_key_vs_bare_fastify_pg = pair('hub_api_key', 'bare_pg_api_key');
  const me = results.ratios.me_vs_bare_fastify;
  const ak = results.ratios.api_key_vs_bare_fastify_pg;
  console.log('');
  printTable(
    [
      { title: 'ratio (hub / bare)' },
      { title: 'req/s', align: 'right' },
      { title: 'goal', align: 'right' },
      { title: 'p50', align: 'right' },
      { title: 'p99', align: 'right' },
      { title: 'cpu/req (bare/hub)', align: 'right' },
    ],
    [
      ['/v1/me vs bare Fastify', formatRatio(me.reqPerSec), `>= ${GOALS.me}x`, formatRatio(me.p50), formatRatio(me.p99), formatRatio(me.cpuPerRequest)],
      ['/v1/api-keys/{id} vs bare Fastify+pg', formatRatio(ak.reqPerSec), `>= ${GOALS.apiKey}x`, formatRatio(ak.p50), formatRatio(ak.p99), formatRatio(ak.cpuPerRequest)],
    ],
  );
  console.log('cpu/req: bare server CPU per request / hub server CPU per request (informational; the goals are on req/s)');
  console.log('');
  // Figures taken while other programs competed for the CPUs can land on either side of a goal: say so beside it.
  results.noisy = results.notes.some((n) => n.includes('figures are noisy'));
  const noisy = results.noisy ? ' [noisy run: see notes]' : '';
  results.goals = [
    goal('me_vs_bare_fastify', {
      value: me.reqPerSec,
      min: GOALS.me,
      valid: me.valid,
      detail: `GET /v1/me req/s = ${formatRatio(me.reqPerSec)} bare Fastify (goal >= ${GOALS.me}x; p99 ${formatRatio(me.p99)})${noisy}`,
    }),
    goal('api_key_vs_bare_fastify_pg', {
      value: ak.reqPerSec,
      min: GOALS.apiKey,
      valid: ak.valid,
      detail: `GET /v1/api-keys/{id} req/s = ${formatRatio(ak.reqPerSec)} bare Fastify+pg (goal >= ${GOALS.apiKey}x; p99 ${formatRatio(ak.p99)})${noisy}`,
    }),
  ];
  if (settings.cpuProfile) results.notes.push('servers were CPU-profiled while measured (round 1): figures are lower than unprofiled');
  printGoals(NAME, results.goals);
  for (const note of results.notes) console.log(`note: ${note}`);
  for (const error of results.errors) console.log(`error: ${error}`);
  for (const [key, summary] of Object.entries(results.profiles)) printProfileSummary(`CPU profile of ${key} (measured run only)`, summary);

  results.load_average_1m.after = loadavg()[0];
  results.valid = results.errors.length === 0 && Object.keys(t).length === 4 && Object.values(t).every((r) => r.valid);
  results.finished_at = new Date().toISOString();
  const file = writeResults(NAME, results);
  log(`results written to ${file}`);
  return results.valid ? 0 : 1;
}

/** Bootstraps the fresh hub, creates the API key the load uses and checks both measured routes answer 200. */
async function setUpHub(url, secrets, state) {
  const boot = await request(`${url}/v1/bootstrap`, {
    method: 'POST',
    json: { bootstrap_token: secrets.bootstrapToken, admin_email: 'bench@example.com', admin_password: `bench-${secrets.secretKey}`, tenant_name: 'bench' },
  });
  expectStatus(boot, 201, 'POST /v1/bootstrap');
  state.tenantId = boot.body.tenant.id;
  state.meBody = standInMeBody(boot.body); // replaced by the real /v1/me body below once that answers
  state.meBodyIsStandIn = true;
  const created = await request(`${url}/v1/api-keys`, {
    method: 'POST',
    headers: bearer(boot.body.api_key.key),
    json: { name: 'bench', scopes: ['keys:manage', 'runs:read'] },
  });
  expectStatus(created, 201, 'POST /v1/api-keys');
  state.keyId = created.body.id;
  const auth = bearer(created.body.key);

  const me = await request(`${url}/v1/me`, { headers: auth });
  expectStatus(me, 200, 'GET /v1/me');
  if (me.body?.api_key?.id !== state.keyId) throw new Error(`GET /v1/me did not describe the key in use: ${me.text.slice(0, 300)}`);
  state.meBody = me.body;
  state.meBodyIsStandIn = false;
  const key = await request(`${url}/v1/api-keys/${state.keyId}`, { headers: auth });
  expectStatus(key, 200, `GET /v1/api-keys/${state.keyId}`);
  if (key.body?.id !== state.keyId) throw new Error(`GET /v1/api-keys/{id} answered another key: ${key.text.slice(0, 300)}`);
  state.auth = auth;
}

function bearer(key) {
  return { authorization: `Bearer ${key}` };
}

function expectStatus(res, status, what) {
  if (res.status !== status) throw new Error(`${what} answered ${res.status}, expected ${status}: ${res.text.slice(0, 400)}`);
}

/** A /v1/me-shaped body from the bootstrap response, for bare Fastify when the hub's own /v1/me fails. */
function standInMeBody(boot) {
  const { key: _secret, ...apiKey } = boot.api_key;
  return {
    kind: 'api_key',
    user: null,
    api_key: { ...apiKey, scopes: ['keys:manage', 'runs:read'] },
    tenant: boot.tenant,
    role: null,
    scopes: ['keys:manage', 'runs:read'],
    plan: boot.tenant.plan,
    is_instance_admin: false,
  };
}
