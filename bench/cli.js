// Issue 6's benchmark: start-up of the gcorp CLI, measured as users feel it (a whole process, start to exit), beside
// `node -e 0` and the smallest oclif CLI (bench/fixtures/bare-oclif, one command), all in one run.
// Goals: `gcorp --version` <= 2x `node -e 0`, and `gcorp whoami --json` against a local hub <= 3x (median wall time).
//
// Targets: node -e 0; bare oclif CLI `hello`; gcorp --version; gcorp --help; gcorp whoami --json with GCORP_API_KEY
// and GCORP_SERVER_URL (as CI runs it); gcorp whoami --json from a stored profile (logged in, credential in the file).
// The hub runs in this process (startHub from the built server package, no worker) on a fresh database: on
// DATABASE_URL when set, else on embedded PostgreSQL.
//
// Measured with hyperfine when it is installed (`apt-get install hyperfine`), else with our own loop; either way the
// targets alternate round after round (BENCH_ROUNDS, default 3) and each round runs each target BENCH_RUNS times
// (default 10, after 2 warm-up runs): the median over every run is reported, with the CPU time (user + system) per
// run, which is less sensitive than wall time to whatever else the machine is doing. Every run must exit 0, and the
// whoami runs must print the hub's answer, or the figures are INVALID.
//
// Environment: BENCH_ROUNDS, BENCH_RUNS, DATABASE_URL, BENCH_TIMEOUT_S (hard limit of the whole run, default 600).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import {
  BENCH_DIR,
  ROOT,
  envInt,
  formatRatio,
  hubSecrets,
  importServer,
  isStopping,
  machineCpuMeter,
  makeTempDir,
  onCleanup,
  printGoals,
  printTable,
  ratio,
  request,
  runBench,
  scrubHubEnv,
  sleep,
  startPostgres,
  writeResults,
} from './lib.js';

const NAME = 'cli';
const CLI_BIN = join(ROOT, 'packages', 'cli', 'bin', 'run.js');
const CLI_MANIFEST = join(ROOT, 'packages', 'cli', 'oclif.manifest.json');
const BARE_BIN = join(BENCH_DIR, 'fixtures', 'bare-oclif', 'bin', 'run.js');
const GOALS = { version: 2, whoami: 3 };

const rounds = envInt('BENCH_ROUNDS', 3, { min: 1, max: 20 });
const runs = envInt('BENCH_RUNS', 10, { min: 3, max: 200 });
const timeoutMs = envInt('BENCH_TIMEOUT_S', 600, { min: 30, max: 7200 }) * 1000;

await runBench(NAME, main, { timeoutMs });

function hasHyperfine() {
  const r = spawnSync('hyperfine', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
}

/** One round of one target with hyperfine: wall times (ms) of every run, and mean user + system CPU (ms). */
async function hyperfineRound(target, tmpDir, index) {
  const file = join(tmpDir, `hyperfine-${index}.json`);
  const args = ['-N', '--warmup', '2', '--runs', String(runs), '--style', 'none', '--export-json', file, '--', target.command.join(' ')];
  const { code, stderr } = await new Promise((resolve) => {
    const child = spawn('hyperfine', args, { env: target.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (c) => resolve({ code: c, stderr: err }));
  });
  if (code !== 0) throw new Error(`hyperfine failed for ${target.name}: ${stderr.trim().split('\n').slice(-3).join(' ')}`);
  const [result] = JSON.parse(readFileSync(file, 'utf8')).results;
  return { wallMs: result.times.map((s) => s * 1000), cpuMs: (result.user + result.system) * 1000, runs: result.times.length };
}

/** Runs a target once, without blocking this process (the hub answering whoami lives here). */
function runOnce(target) {
  return new Promise((resolve) => {
    const child = spawn(target.command[0], target.command.slice(1), { env: target.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The same without hyperfine: wall time per run (2 warm-up runs first); CPU time is not measured this way. */
async function ownRound(target) {
  const wallMs = [];
  for (let i = 0; i < runs + 2; i++) {
    const started = process.hrtime.bigint();
    const r = await runOnce(target);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (r.status !== 0) throw new Error(`${target.name} exited ${r.status}: ${r.stderr.trim().slice(0, 300)}`);
    if (i >= 2) wallMs.push(ms);
  }
  return { wallMs, cpuMs: null, runs: wallMs.length };
}

async function main() {
  const startedAt = new Date();
  const removedEnv = scrubHubEnv();
  const results = {
    module: NAME,
    started_at: startedAt.toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    load_average_1m: { before: loadavg()[0], after: null },
    settings: { rounds, runs_per_round: runs, tool: null },
    postgres: null,
    targets: {},
    ratios: {},
    goals: [],
    notes: [],
    errors: [],
    valid: false,
  };
  const log = (line) => console.log(`[cli] ${line}`);

  for (const [what, file] of [
    ['the CLI (npm run build)', join(ROOT, 'packages', 'cli', 'dist', 'main.js')],
    ['the CLI manifest (npm run build)', CLI_MANIFEST],
  ]) {
    if (!existsSync(file)) throw new Error(`${what} is missing: ${file}; npm run bench builds it, or run npx turbo run build`);
  }
  const tool = hasHyperfine();
  results.settings.tool = tool ?? 'own loop (hyperfine not installed: CPU time not measured)';
  log(`${tool ?? 'hyperfine not found, using an own timing loop'}; ${rounds} rounds x ${runs} runs per target`);

  const idleCheck = machineCpuMeter();
  await sleep(1000);
  results.machine_busy_pct_before = idleCheck();
  if (results.machine_busy_pct_before !== null && results.machine_busy_pct_before > 20) {
    const note = `the machine was already ${Math.round(results.machine_busy_pct_before)}% busy before the run (1-minute load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} CPUs): wall times are noisy, CPU times less so`;
    results.notes.push(note);
    log(`warning: ${note}`);
  }

  // A local hub with a tenant and an all-scopes key.
  const tmpDir = makeTempDir('gcorp-bench-cli-');
  const secrets = hubSecrets();
  const pg = await startPostgres({ secrets, tmpDir, appPassword: removedEnv.GCORP_DB_APP_PASSWORD, hubOptions: { workerConcurrency: 0 } });
  results.postgres = { mode: pg.mode, description: pg.description };
  log(`PostgreSQL: ${pg.description}`);
  const { startHub } = await importServer();
  const hub = await startHub({
    databaseUrl: pg.ownerUrl,
    databaseAppPassword: pg.appPassword,
    dataDir: join(tmpDir, 'hub'),
    host: '127.0.0.1',
    port: 0,
    logger: false,
    workerConcurrency: 0,
    bootstrapToken: secrets.bootstrapToken,
    secretKey: secrets.secretKey,
    // The start-up of the CLI is measured, not the hub's limits: dozens of whoami calls a second are fine here.
    limitsEnabled: false,
  });
  onCleanup(() => hub.close());
  const boot = await request(`${hub.url}/v1/bootstrap`, {
    method: 'POST',
    json: { bootstrap_token: secrets.bootstrapToken, admin_email: 'bench@example.com', admin_password: 'bench password 0123456789', tenant_name: 'Bench' },
  });
  if (boot.status !== 201) throw new Error(`bootstrap answered ${boot.status}: ${boot.text.slice(0, 300)}`);
  const key = boot.body.api_key.key;
  log(`hub on ${hub.url}, bootstrapped`);

  // Every gcorp run gets the same clean environment: its own config folder, no keychain, no colour settings.
  const baseEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(GCORP_|NODE_ENV$|DBUS_SESSION_BUS_ADDRESS$|NO_COLOR$|FORCE_COLOR$|npm_)/.test(name)),
  );
  const configDir = join(tmpDir, 'config');
  const cliEnv = { ...baseEnv, GCORP_CONFIG_DIR: configDir };
  const envKeyEnv = { ...cliEnv, GCORP_API_KEY: key, GCORP_SERVER_URL: hub.url };
  // A stored profile, as after `gcorp login`: the key in credentials.json (no keychain on a bench machine).
  await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, 'login', '--with-token', '--insecure-storage', '--server', hub.url], { env: cliEnv, stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`gcorp login --with-token failed (${code}): ${err}`))));
    child.stdin.end(key);
  });

  const node = process.execPath;
  const targets = [
    { key: 'node', name: 'node -e 0', command: [node, '-e', '0'], env: baseEnv },
    { key: 'bare_oclif', name: 'bare oclif CLI (1 command)', command: [node, BARE_BIN, 'hello'], env: baseEnv },
    { key: 'version', name: 'gcorp --version', command: [node, CLI_BIN, '--version'], env: cliEnv },
    { key: 'help', name: 'gcorp --help', command: [node, CLI_BIN, '--help'], env: cliEnv },
    { key: 'whoami', name: 'gcorp whoami --json (GCORP_API_KEY)', command: [node, CLI_BIN, 'whoami', '--json'], env: envKeyEnv },
    { key: 'whoami_profile', name: 'gcorp whoami --json (stored profile)', command: [node, CLI_BIN, 'whoami', '--json'], env: cliEnv },
  ];

  // Check once that each command does its job (exit 0; whoami answers with the hub's view of the key).
  for (const t of targets) {
    const r = await runOnce(t);
    if (r.status !== 0) throw new Error(`${t.name} exited ${r.status}: ${r.stderr.slice(0, 300)}`);
    if (t.key.startsWith('whoami')) {
      const body = JSON.parse(r.stdout);
      if (body.kind !== 'api_key' || body.server !== hub.url) throw new Error(`${t.name} did not answer as expected: ${r.stdout.slice(0, 300)}`);
    }
  }

  const samples = Object.fromEntries(targets.map((t) => [t.key, { wallMs: [], cpuMs: [] }]));
  let index = 0;
  for (let round = 1; round <= rounds && !isStopping(); round++) {
    log(`round ${round} of ${rounds}`);
    for (const t of targets) {
      if (isStopping()) break;
      try {
        const r = tool ? await hyperfineRound(t, tmpDir, index++) : await ownRound(t);
        samples[t.key].wallMs.push(...r.wallMs);
        if (r.cpuMs !== null) samples[t.key].cpuMs.push(r.cpuMs);
      } catch (err) {
        results.errors.push(`${t.name}: ${err.message}`);
        console.error(`[cli] ${t.name}: ${err.message}`);
      }
    }
  }
  results.load_average_1m.after = loadavg()[0];

  for (const t of targets) {
    const s = samples[t.key];
    results.targets[t.key] = {
      name: t.name,
      command: t.command.map((part) => (part.startsWith(ROOT) ? relative(ROOT, part) : part)).join(' '),
      runs: s.wallMs.length,
      median_ms: median(s.wallMs),
      p25_ms: quantile(s.wallMs, 0.25),
      p75_ms: quantile(s.wallMs, 0.75),
      cpu_ms: s.cpuMs.length > 0 ? s.cpuMs.reduce((a, b) => a + b, 0) / s.cpuMs.length : null,
    };
  }
  const base = results.targets.node;
  for (const t of targets) {
    const r = results.targets[t.key];
    results.ratios[t.key] = { wall: ratio(r.median_ms, base.median_ms), cpu: ratio(r.cpu_ms, base.cpu_ms) };
  }

  console.log('');
  printTable(
    [
      { title: 'target' },
      { title: 'runs', align: 'right' },
      { title: 'median ms', align: 'right' },
      { title: 'p25-p75 ms', align: 'right' },
      { title: 'x node -e 0', align: 'right' },
      { title: 'CPU ms', align: 'right' },
      { title: 'CPU x node', align: 'right' },
    ],
    targets.map((t) => {
      const r = results.targets[t.key];
      const fmt = (n) => (n === null ? '-' : n.toFixed(0));
      return [t.name, r.runs, fmt(r.median_ms), `${fmt(r.p25_ms)}-${fmt(r.p75_ms)}`, formatRatio(results.ratios[t.key].wall), fmt(r.cpu_ms), formatRatio(results.ratios[t.key].cpu)];
    }),
  );
  console.log('');

  const atMost = (name, key, max, what) => {
    const r = results.targets[key];
    const x = results.ratios[key].wall;
    const valid = r.runs > 0 && base.runs > 0 && !results.errors.some((e) => e.startsWith(targets.find((t) => t.key === key).name) || e.startsWith('node -e 0'));
    const status = !valid || x === null ? 'INVALID' : x <= max ? 'PASS' : 'MISS';
    const cpu = results.ratios[key].cpu;
    return {
      name,
      status,
      value: x,
      max,
      detail: `${what}: median ${r.median_ms?.toFixed(0) ?? '-'} ms = ${formatRatio(x)} node -e 0 (${base.median_ms?.toFixed(0) ?? '-'} ms), goal <= ${max}x${cpu === null ? '' : `; CPU ${formatRatio(cpu)}`}; bare oclif CLI ${formatRatio(results.ratios.bare_oclif.wall)}`,
    };
  };
  results.goals = [atMost('version', 'version', GOALS.version, 'gcorp --version'), atMost('whoami_json', 'whoami', GOALS.whoami, 'gcorp whoami --json (GCORP_API_KEY, local hub)')];
  printGoals(NAME, results.goals);
  results.valid = results.goals.every((g) => g.status !== 'INVALID');
  const file = writeResults(NAME, results);
  log(`results: ${relative(ROOT, file)}`);
  return results.valid ? 0 : 1;
}
