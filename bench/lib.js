// Shared helpers of the benchmarks in bench/: PostgreSQL for one run (a fresh database on DATABASE_URL, or an
// embedded cluster), server child processes, autocannon runs checked for status codes, tables, ratios, goals, results
// files, and the bounds every benchmark keeps: loopback targets only, fixed durations, a hard overall timeout.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BENCH_DIR = join(ROOT, 'bench');
export const RESULTS_DIR = process.env.BENCH_RESULTS_DIR || join(BENCH_DIR, 'results');
/** The server package's public entry (built by `npm run bench` before anything runs). */
export const SERVER_ENTRY = join(ROOT, 'packages/server/dist/index.js');

// ---------------------------------------------------------------------------------------------------------------
// Dependencies

/**
 * Imports a package the benchmarks share with the server (fastify, pg): from the repository root when it is hoisted
 * there, else from packages/server's own node_modules.
 */
export async function importDependency(name) {
  try {
    return await import(name);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    const require = createRequire(join(ROOT, 'packages/server/package.json'));
    return import(pathToFileURL(require.resolve(name)).href);
  }
}

/** Imports the built server, with a hint when the build is missing. */
export async function importServer() {
  try {
    statSync(SERVER_ENTRY);
  } catch {
    throw new Error(`${relative(ROOT, SERVER_ENTRY)} is missing: build first (npm run bench builds, or npx turbo run build)`);
  }
  return import(pathToFileURL(SERVER_ENTRY).href);
}

// ---------------------------------------------------------------------------------------------------------------
// Settings

/** A whole number from the environment within [min, max], or `fallback` when unset. */
export function envInt(name, fallback, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number in ${min}..${max}, not "${raw}"`);
  return n;
}

/**
 * Load settings shared by the HTTP benchmarks: seconds of warm-up and of measurement, concurrent connections, and
 * rounds (each target measured that many times, alternating with the others; the median round is reported).
 */
export function loadSettings() {
  return {
    duration: envInt('BENCH_DURATION', 5, { min: 1, max: 300 }),
    warmup: envInt('BENCH_WARMUP', 1, { min: 0, max: 60 }),
    connections: envInt('BENCH_CONNECTIONS', 16, { min: 1, max: 1000 }),
    rounds: envInt('BENCH_ROUNDS', 1, { min: 1, max: 20 }),
    cpuProfile: process.env.BENCH_CPU_PROF === '1',
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Lifecycle: cleanups run in reverse order on success, failure, signal or hard timeout.

const cleanups = [];

/** Registers `fn` to run when the benchmark ends; returns a function that unregisters it. */
export function onCleanup(fn) {
  cleanups.push(fn);
  return () => {
    const i = cleanups.lastIndexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

async function runCleanups() {
  while (cleanups.length > 0) {
    const fn = cleanups.pop();
    try {
      await withTimeout(Promise.resolve().then(fn), 30_000, 'cleanup step');
    } catch (err) {
      console.error(`cleanup failed: ${err?.message ?? err}`);
    }
  }
}

/** Rejects with a clear message when `promise` does not settle within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let finishing = false;

/** True once the benchmark is stopping (signal, hard timeout): `main` should do nothing more, cleanups are running. */
export function isStopping() {
  return finishing;
}

/** Exit status of a benchmark stopped by its hard timeout (as timeout(1) uses). */
export const EXIT_TIMED_OUT = 124;

/**
 * Runs a benchmark's `main` under a hard timeout; cleans up (child servers, databases, temporary directories) on every
 * way out, including SIGINT/SIGTERM. `main` resolves to the exit code (0 = measured; goals missed still exit 0).
 */
export async function runBench(name, main, { timeoutMs }) {
  const finish = async (code) => {
    if (finishing) return;
    finishing = true;
    clearTimeout(hardTimer);
    await runCleanups();
    process.exit(code);
  };
  const hardTimer = setTimeout(() => {
    console.error(`${name}: hard timeout of ${Math.round(timeoutMs / 1000)} s reached; stopping`);
    void finish(EXIT_TIMED_OUT);
  }, timeoutMs);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      console.error(`${name}: ${signal} received; cleaning up`);
      void finish(130);
    });
  }
  try {
    const code = await main();
    await finish(code ?? 0);
  } catch (err) {
    console.error(`${name}: ${err?.stack ?? err}`);
    await finish(1);
  }
}

/** A private temporary directory that the system user `postgres` can traverse (embedded PostgreSQL runs as it under root). */
export function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o711);
  onCleanup(async () => {
    // A process being stopped alongside (initdb, PostgreSQL) may still write into it: retry, then once more later.
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    await sleep(500);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });
  return dir;
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL

/** Environment variables the hub reads that must not leak into a benchmark's servers (they get explicit settings). */
const HUB_ENV = /^(GCORP_.*|DATABASE_APP_URL|PORT|LOG_LEVEL)$/;

/** Removes the hub's configuration variables from this process (and so from its children); returns what they were. */
export function scrubHubEnv() {
  const removed = {};
  for (const k of Object.keys(process.env).filter((name) => HUB_ENV.test(name))) {
    removed[k] = process.env[k];
    delete process.env[k];
  }
  return removed;
}

export function redactUrl(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

export function isLoopbackHost(hostname) {
  return ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(hostname) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Throws unless `url` points at this machine: a benchmark never sends load anywhere else. */
export function assertLoopback(url) {
  const { hostname } = new URL(url);
  if (!isLoopbackHost(hostname)) throw new Error(`refusing to send load to ${hostname}: benchmarks target loopback only`);
}

/** The URL the hub's app pool uses: the owner URL with user gcorp_app and its password (as the hub builds it). */
export function appDatabaseUrl(ownerUrl, appPassword) {
  const u = new URL(ownerUrl);
  u.username = 'gcorp_app';
  u.password = appPassword ? encodeURIComponent(appPassword) : '';
  return u.toString();
}

/** Random secrets a benchmark's hub starts with: the bootstrap token and the instance secret key. */
export function hubSecrets() {
  return { bootstrapToken: randomBytes(24).toString('base64url'), secretKey: randomBytes(32).toString('base64url') };
}

/**
 * PostgreSQL for one benchmark run, dropped or stopped at the end.
 * - DATABASE_URL set: creates a fresh database `gcorp_bench_<random>` on it (its user must be allowed to) and drops it.
 * - unset: starts the hub's embedded PostgreSQL through startHub (not listening: it only holds the cluster, migrated,
 *   while the servers under test run in child processes) and reads the cluster's port and passwords from its data
 *   directory.
 * Resolves to `{ mode, ownerUrl, appPassword, description }`; `ownerUrl` points at the (migrated, for embedded)
 * database, `appPassword` is the gcorp_app password when there is one (for DATABASE_URL: the `appPassword` option,
 * i.e. GCORP_DB_APP_PASSWORD as scrubHubEnv found it). `hubOptions` are extra startHub options of the embedded
 * holder (e.g. `{ workerConcurrency: 0 }` so that it executes no runs beside the servers under test).
 */
export async function startPostgres({ secrets, tmpDir, appPassword: externalAppPassword, hubOptions = {} }) {
  const adminUrl = process.env.DATABASE_URL?.trim();
  if (adminUrl) {
    const { hostname } = new URL(adminUrl);
    if (!isLoopbackHost(hostname)) console.error(`warning: DATABASE_URL points at ${hostname}, not this machine; figures include the network`);
    const pg = (await importDependency('pg')).default;
    const name = `gcorp_bench_${randomBytes(6).toString('hex')}`;
    const admin = async (sql) => {
      const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000, application_name: 'gcorp-bench' });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    await admin(`CREATE DATABASE ${name}`);
    onCleanup(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    const ownerUrl = new URL(adminUrl);
    ownerUrl.pathname = `/${name}`;
    return {
      mode: 'external',
      ownerUrl: ownerUrl.toString(),
      appPassword: externalAppPassword || undefined,
      description: `DATABASE_URL ${redactUrl(adminUrl)}, fresh database ${name} (dropped at the end)`,
    };
  }

  const { startHub } = await importServer();
  const dataDir = join(tmpDir, 'embedded');
  mkdirSync(dataDir, { mode: 0o711 });
  const started = Date.now();
  const holder = await startHub({
    dataDir,
    listen: false,
    port: 0,
    host: '127.0.0.1',
    logger: false,
    logLevel: 'silent',
    bootstrapToken: secrets.bootstrapToken,
    secretKey: secrets.secretKey,
    ...hubOptions,
  });
  onCleanup(() => holder.close());
  const pgDir = join(dataDir, 'postgres');
  const read = (file) => readFileSync(join(pgDir, file), 'utf8').trim();
  let port, password, appPassword;
  try {
    // postmaster.pid's fourth line is the port (PostgreSQL's documented layout); the passwords are the hub's files.
    port = Number(read('pgdata/postmaster.pid').split('\n')[3]);
    password = read('pg-password');
    appPassword = read('pg-app-password');
  } catch (err) {
    throw new Error(`embedded PostgreSQL started, but its port or passwords could not be read from ${pgDir}: ${err.message}`);
  }
  if (!Number.isInteger(port) || port <= 0) throw new Error(`embedded PostgreSQL: no port in ${pgDir}/pgdata/postmaster.pid`);
  const ownerUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  return {
    mode: 'embedded',
    ownerUrl,
    appPassword,
    description: `embedded PostgreSQL via startHub (port ${port}, started in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Server child processes

/**
 * Forks `script` (a server entry that speaks the protocol of bench/servers/*: receives `{type:'start', config}`,
 * answers `{type:'ready', url, info}` or `{type:'error', message}`, stops on `{type:'stop'}` or when this process
 * goes away; other commands `{type: T, ...}` are answered `{type: 'T:done', ...}` or `{type: 'T:error', message}`).
 * Resolves once ready, to `{ url, info, pid, call(type, payload), stop() }`.
 */
export async function startServerChild(script, config, { nodeArgs = [], readyTimeoutMs = 120_000, label = script } = {}) {
  const child = fork(script, [], { cwd: ROOT, execArgv: nodeArgs, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  // Without a listener, a failed send (the child already gone) would be an uncaught 'error' event.
  child.on('error', (err) => {
    if (!finishing) console.error(`${label}: ${err.message}`);
  });
  const send = (message) =>
    new Promise((resolve, reject) => {
      if (!child.connected) return reject(new Error(`${label}: the server process is gone`));
      child.send(message, (err) => (err ? reject(err) : resolve()));
    });
  let stopping;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        await send({ type: 'stop' }).catch(() => child.kill('SIGTERM'));
        const gone = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
        if (!gone) {
          console.error(`${label}: did not stop within 15 s; killing it`);
          child.kill('SIGKILL');
        }
      }
      return exited;
    })();
    return stopping;
  };
  const unregister = onCleanup(stop);
  try {
    const ready = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label}: not ready within ${readyTimeoutMs / 1000} s`)), readyTimeoutMs);
      child.on('message', (m) => {
        if (m?.type === 'ready') {
          clearTimeout(timer);
          resolve(m);
        } else if (m?.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`${label}: ${m.message}`));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${label}: exited (${signal ?? `code ${code}`}) before it was ready`));
      });
      send({ type: 'start', config }).catch((err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    assertLoopback(ready.url);
    return {
      url: ready.url,
      info: ready.info ?? {},
      pid: child.pid,
      /** Calls `fn` on every message the child sends on its own (not answers to `call`); returns the unsubscribe. */
      onMessage(fn) {
        child.on('message', fn);
        return () => child.off('message', fn);
      },
      call(type, payload = {}, timeoutMs = 60_000) {
        return withTimeout(
          new Promise((resolve, reject) => {
            const onMessage = (m) => {
              if (m?.type !== `${type}:done` && m?.type !== `${type}:error`) return;
              child.off('message', onMessage);
              if (m.type === `${type}:done`) resolve(m);
              else reject(new Error(`${label}: ${type}: ${m.message}`));
            };
            child.on('message', onMessage);
            send({ type, ...payload }).catch((err) => {
              child.off('message', onMessage);
              reject(err);
            });
          }),
          timeoutMs,
          `${label} ${type}`,
        );
      },
      async stop() {
        const result = await stop();
        unregister();
        return result;
      },
    };
  } catch (err) {
    await stop();
    unregister();
    throw err;
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * One bounded HTTP request for set-up and checks (not for load). JSON bodies in and out; resolves to
 * `{ status, headers, text, body }` where `body` is the parsed JSON or undefined.
 */
export async function request(url, { method = 'GET', headers = {}, json, timeoutMs = 10_000 } = {}) {
  assertLoopback(url);
  const res = await fetch(url, {
    method,
    headers: json === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: json === undefined ? undefined : JSON.stringify(json),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

// ---------------------------------------------------------------------------------------------------------------
// Load

/**
 * Runs autocannon against `url` for `duration` seconds with `connections` keep-alive connections and checks every
 * response: any status other than `expectStatus`, connection error or timeout makes the run invalid (`valid: false`,
 * reasons in `problems`) rather than a fast result. Latencies are of the expected responses, in milliseconds.
 */
export async function autocannonRun({ url, headers = {}, connections, duration, method = 'GET', expectStatus = 200, timeoutS = 10 }) {
  assertLoopback(url);
  const autocannon = (await import('autocannon')).default;
  const result = await withTimeout(
    new Promise((resolve, reject) => {
      autocannon({ url, method, headers, connections, duration, timeout: timeoutS, pipelining: 1 }, (err, res) => (err ? reject(err) : resolve(res)));
    }),
    (duration + timeoutS + 30) * 1000,
    `autocannon run against ${url}`,
  );
  const statusCounts = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]));
  const responses = Object.values(statusCounts).reduce((a, b) => a + b, 0);
  const expected = statusCounts[String(expectStatus)] ?? 0;
  const problems = [];
  if (responses === 0) problems.push('no responses');
  if (expected !== responses) problems.push(`${responses - expected} responses were not ${expectStatus} (${JSON.stringify(statusCounts)})`);
  if (result.errors > 0) problems.push(`${result.errors} request errors (${result.timeouts} of them timeouts)`);
  if (result.resets > 0) problems.push(`${result.resets} connection resets`);
  return {
    url,
    method,
    connections,
    duration: result.duration,
    reqPerSec: result.requests.mean,
    reqPerSecStddev: result.requests.stddev,
    responses,
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    latency: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      mean: result.latency.mean,
      max: result.latency.max,
    },
    bytesPerResponse: expected > 0 ? Math.round(result.throughput.total / expected) : null,
    valid: problems.length === 0,
    problems,
  };
}

/**
 * A warm-up run (discarded) followed by the measured run; `beforeMeasure`/`afterMeasure` run just around the measured
 * run (CPU profiling).
 */
export async function warmAndMeasure({ url, headers, settings, method, expectStatus, beforeMeasure, afterMeasure }) {
  if (settings.warmup > 0) {
    await autocannonRun({ url, headers, method, expectStatus, connections: settings.connections, duration: settings.warmup });
  }
  await beforeMeasure?.();
  const run = await autocannonRun({ url, headers, method, expectStatus, connections: settings.connections, duration: settings.duration });
  await afterMeasure?.();
  return run;
}

// ---------------------------------------------------------------------------------------------------------------
// CPU use during a measured run: shows which side was saturated (a server far below 100% of a core was not the
// bottleneck; the load generator or PostgreSQL was).

/** Starts measuring this process's CPU time; the returned function gives the % of one core used since. */
export function processCpuMeter() {
  const start = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  return () => {
    const { user, system } = process.cpuUsage(start);
    const elapsedUs = Number(process.hrtime.bigint() - t0) / 1000;
    return elapsedUs > 0 ? Math.round((1000 * (user + system)) / elapsedUs) / 10 : null;
  };
}

function readProcStat() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + (fields[4] ?? 0); // idle + iowait
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}

/** Starts measuring the whole machine's CPU use (Linux); the returned function gives the busy % of all CPUs. */
export function machineCpuMeter() {
  const start = readProcStat();
  return () => {
    const end = readProcStat();
    if (!start || !end || end.total <= start.total) return null;
    return Math.round((1000 * (1 - (end.idle - start.idle) / (end.total - start.total)))) / 10;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

/**
 * The median of several runs of one target by req/s (the lower middle one for an even count), with the spread:
 * `{ ...medianRun, rounds: [{ reqPerSec, p50, p99, valid }], reqPerSecMin, reqPerSecMax, valid }` where `valid`
 * holds only if every round was valid.
 */
export function medianRun(runs) {
  if (runs.length === 0) return undefined;
  const sorted = [...runs].sort((a, b) => a.reqPerSec - b.reqPerSec);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  return {
    ...median,
    valid: runs.every((r) => r.valid),
    problems: runs.flatMap((r, i) => r.problems.map((p) => (runs.length > 1 ? `round ${i + 1}: ${p}` : p))),
    reqPerSecMin: sorted[0].reqPerSec,
    reqPerSecMax: sorted[sorted.length - 1].reqPerSec,
    rounds: runs.map((r) => ({ reqPerSec: r.reqPerSec, p50: r.latency.p50, p99: r.latency.p99, valid: r.valid, cpu: r.cpu })),
  };
}

/** `a / b`, or null when either is missing or b is not positive. */
export function ratio(a, b) {
  return typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && b > 0 ? a / b : null;
}

export function formatRatio(r) {
  return r === null ? 'n/a' : `${r.toFixed(2)}x`;
}

export function formatNumber(n, digits = 0) {
  return typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/**
 * Formats a table: `columns` are `{ title, align }` (align 'left' or 'right', default left), `rows` arrays of cells.
 * Prints it unless `print` is false; returns the text.
 */
export function printTable(columns, rows, { print = true } = {}) {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = columns.map((col, i) => Math.max(col.title.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values) =>
    values
      .map((v, i) => (columns[i].align === 'right' ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const text = [line(columns.map((c) => c.title)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
  if (print) console.log(text);
  return text;
}

/**
 * A goal `value >= min`: PASS or MISS, or INVALID when the measurements behind it are not valid (errors, non-2xx,
 * missing). `name` is short and stable (it keys the results file); `detail` says what was compared.
 */
export function goal(name, { value, min, valid, detail }) {
  const status = !valid || value === null || value === undefined ? 'INVALID' : value >= min ? 'PASS' : 'MISS';
  return { name, status, value: value ?? null, min, detail };
}

export function printGoals(moduleName, goals) {
  for (const g of goals) console.log(`${g.status} ${moduleName}/${g.name}: ${g.detail}`);
}

/** Writes `bench/results/<name>.json` (run.js reads `goals` and `valid` from it for its summary). */
export function writeResults(name, data) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

export function readResults(name) {
  try {
    return JSON.parse(readFileSync(join(RESULTS_DIR, `${name}.json`), 'utf8'));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CPU profiles (BENCH_CPU_PROF=1): server children profile themselves with the inspector's sampling profiler (the one
// `node --cpu-prof` uses) during each measured run only, so start-up, set-up and warm-up stay out of the profile.

/** Starts the V8 sampling profiler in this process; resolves to a function that stops it and writes `file`. */
export async function startCpuProfile() {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  const post = (method, params) =>
    new Promise((resolve, reject) => session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 500 });
  await post('Profiler.start');
  return async (file) => {
    const { profile } = await post('Profiler.stop');
    session.disconnect();
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(profile));
    return file;
  };
}

function packageOf(url) {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return 'node core';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = path.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (path.includes('/packages/server/')) return '@genericcorp/server';
  if (path.startsWith(BENCH_DIR)) return 'bench';
  return path.startsWith('/') ? relative(ROOT, path) : path;
}

function shortLocation(url, line) {
  if (!url) return '';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('/node_modules/');
  const shown = nm >= 0 ? path.slice(nm + '/node_modules/'.length) : path.startsWith(ROOT) ? relative(ROOT, path) : path;
  return `${shown}:${line + 1}`;
}

function frameKey(callFrame) {
  return `${callFrame.functionName || '(anonymous)'} ${shortLocation(callFrame.url, callFrame.lineNumber)}`.trim();
}

/**
 * Summarises a V8 .cpuprofile, largest first: self time per function and per package, and inclusive time (the function
 * and everything it called) of the functions whose source matches `ownCode` (default: the hub's own code).
 * Percentages are of the busy time (everything but `(idle)`).
 */
export function summarizeCpuProfile(file, { top = 15, ownCode = '/packages/server/' } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id);
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  // Inclusive time: every distinct own-code frame on a sample's stack gets the sample once (recursion counted once).
  const inclusive = new Map();
  for (const [id, us] of selfUs) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parents.get(at)) {
      const { callFrame } = nodes.get(at);
      if (!callFrame.url.includes(ownCode)) continue;
      const key = frameKey(callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const frames = new Map();
  const packages = new Map();
  let idle = 0;
  let busy = 0;
  for (const [id, us] of selfUs) {
    const { callFrame } = nodes.get(id);
    const name = callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const key = frameKey(callFrame);
    frames.set(key, (frames.get(key) ?? 0) + us);
    const pkg = name.startsWith('(') ? name : packageOf(callFrame.url);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  const rank = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([what, us]) => ({ what, ms: Math.round(us / 1000), pct: busy > 0 ? Math.round((1000 * us) / busy) / 10 : 0 }));
  return {
    file: relative(ROOT, file),
    busyMs: Math.round(busy / 1000),
    idleMs: Math.round(idle / 1000),
    frames: rank(frames),
    packages: rank(packages),
    ownInclusive: rank(inclusive),
  };
}

export function printProfileSummary(title, summary) {
  console.log(`\n${title}: ${summary.busyMs} ms busy, ${summary.idleMs} ms idle (${summary.file})`);
  printTable(
    [{ title: 'self %', align: 'right' }, { title: 'ms', align: 'right' }, { title: 'function (self time)' }],
    summary.frames.map((f) => [f.pct.toFixed(1), f.ms, f.what]),
  );
  console.log('');
  printTable(
    [{ title: 'self %', align: 'right' }, { title: 'ms', align: 'right' }, { title: 'package' }],
    summary.packages.map((f) => [f.pct.toFixed(1), f.ms, f.what]),
  );
  if (summary.ownInclusive.length > 0) {
    console.log('');
    printTable(
      [{ title: 'incl %', align: 'right' }, { title: 'ms', align: 'right' }, { title: 'hub function (with its callees)' }],
      summary.ownInclusive.map((f) => [f.pct.toFixed(1), f.ms, f.what]),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers of bench/runs.js and bench/usage.js: fresh databases beside the one of startPostgres, a keep-alive HTTP
// client that times each request precisely, latency percentiles, upper-bound goals, Redis key clean-up.

/**
 * Creates a fresh database `<prefix>_<random>` on the server `ownerUrl` points at (its user must be allowed to) and
 * drops it at the end. Resolves to `{ name, url }` (`url`: ownerUrl with the new database).
 */
export async function createDatabase(ownerUrl, { prefix = 'gcorp_bench' } = {}) {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
  await withPgClient(ownerUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  onCleanup(() => withPgClient(ownerUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)));
  const url = new URL(ownerUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

/** Runs `fn(client)` on a new pg client of `url` (bounded connect), always closing it. */
export async function withPgClient(url, fn, { statementTimeoutMs } = {}) {
  const pg = (await importDependency('pg')).default;
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    application_name: 'gcorp-bench',
    ...(statementTimeoutMs ? { statement_timeout: statementTimeoutMs } : {}),
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A keep-alive HTTP client for one loopback server (node:http, lighter on the load generator's CPU than fetch):
 * `request(method, path, { headers, json, timeoutMs })` resolves to `{ status, headers, text, body, ms }` where `ms` is
 * the time from sending the request to the end of the response (high resolution) and `body` the parsed JSON.
 */
export async function httpClient(baseUrl, { maxSockets = 64 } = {}) {
  assertLoopback(baseUrl);
  const http = await import('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  const base = new URL(baseUrl);
  const request = (method, path, { headers = {}, json, timeoutMs = 30_000 } = {}) =>
    new Promise((resolve, reject) => {
      const payload = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
      const t0 = process.hrtime.bigint();
      const req = http.request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          method,
          path,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length, ...headers } : headers,
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const ms = Number(process.hrtime.bigint() - t0) / 1e6;
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString('utf8');
            let body;
            try {
              body = JSON.parse(text);
            } catch {
              body = undefined;
            }
            resolve({ status: res.statusCode, headers: res.headers, text, body, ms });
          });
        },
      );
      const timer = setTimeout(() => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(payload);
    });
  return { request, close: () => agent.destroy() };
}

/** Calls `fn(i)` for i in [0, count) with at most `concurrency` calls in flight; rejects on the first failure. */
export async function runBounded(count, concurrency, fn) {
  let next = 0;
  let failed;
  const lane = async () => {
    while (next < count && !failed && !finishing) {
      const i = next++;
      try {
        await fn(i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  if (failed) throw failed;
}

/** The q-quantile (0..1) of an ascending array by the nearest-rank method; null when empty. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

/** `{ count, min, p50, p90, p99, mean, max }` of samples in milliseconds (rounded to 0.01 ms); nulls when empty. */
export function latencyStats(samples) {
  const sorted = samples.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  const r = (v) => (v === null || v === undefined ? null : Math.round(v * 100) / 100);
  return {
    count: sorted.length,
    min: r(sorted[0] ?? null),
    p50: r(quantile(sorted, 0.5)),
    p90: r(quantile(sorted, 0.9)),
    p99: r(quantile(sorted, 0.99)),
    mean: r(sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null),
    max: r(sorted[sorted.length - 1] ?? null),
  };
}

/** The median of numbers (the lower middle one for an even count); null when empty. */
export function median(values) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : null;
}

/** A goal `value <= max` (latencies, ratios that must stay small); statuses as `goal`. */
export function goalMax(name, { value, max, valid, detail }) {
  const status = !valid || value === null || value === undefined ? 'INVALID' : value <= max ? 'PASS' : 'MISS';
  return { name, status, value: value ?? null, max, detail };
}

/**
 * Samples the machine's CPU use for a second `when` ('before' or 'after') the benchmark's own work, with none of its
 * servers running; other work on the machine skews every figure, so a busy machine adds a note ("figures are noisy")
 * to `notes`. Resolves to the busy % (null when unknown).
 */
export async function checkMachineIdle(notes, log, when = 'before') {
  const meter = machineCpuMeter();
  await sleep(1000);
  const busy = meter();
  if (busy !== null && busy > 20) {
    const { availableParallelism, loadavg } = await import('node:os');
    const note = `the machine was ${when === 'before' ? 'already ' : ''}${Math.round(busy)}% busy ${when} the run (1-minute load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} CPUs): figures are noisy`;
    notes.push(note);
    log(`warning: ${note}`);
  }
  return busy;
}

/** Deletes the Redis keys matching `patterns` (SCAN, never KEYS); resolves to how many were deleted. */
export async function deleteRedisKeys(redisUrl, patterns) {
  const { Redis } = await importDependency('ioredis');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000, enableOfflineQueue: false });
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    await redis.connect();
    for (const pattern of patterns) {
      let cursor = '0';
      do {
        const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = nextCursor;
        if (keys.length > 0) deleted += await redis.unlink(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/**
 * BullMQ's Queue and Worker with the backend the hub would use, connected as packages/server/src/runs/queue.ts
 * connects them: Redis (one ioredis connection, maxRetriesPerRequest null) when `redisUrl` is given, else BullMQ's
 * PostgreSQL backend on `postgresUrl` (schema `bullmq`, pool of 4). Construct with
 * `new Queue(name, { connection, prefix, ... }, ...extra)`; `close()` after closing the queues and workers.
 */
export async function bullmqBackend({ redisUrl, postgresUrl }) {
  const { Queue, Worker } = await importDependency('bullmq');
  if (redisUrl) {
    const { Redis } = await importDependency('ioredis');
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
    redis.on('error', () => undefined);
    return { kind: 'redis', Queue, Worker, connection: redis, extra: [], close: async () => redis.disconnect() };
  }
  const { createPostgresBackend } = await importDependency('bullmq/dist/cjs/postgres/index.js');
  return {
    kind: 'postgres',
    Queue,
    Worker,
    connection: { connectionString: postgresUrl, schema: 'bullmq', max: 4 },
    extra: [createPostgresBackend],
    close: async () => undefined,
  };
}

/**
 * Starts measuring the CPU time of the PostgreSQL backends connected to database `dbName` (Linux /proc; the server
 * must run on this machine). The returned async function resolves to `{ pct_of_core, ms, backends }` since the start
 * (backends that connected meanwhile count from their start; background processes such as the WAL writer are not
 * included), or null when it cannot tell.
 */
export async function pgBackendCpuMeter(ownerUrl, dbName) {
  const ticksPerSecond = 100; // USER_HZ on Linux
  // Only a server on this machine, whose backends are processes here (not in a container with its own pid space).
  if (!isLoopbackHost(new URL(ownerUrl).hostname)) return async () => null;
  const isPostgres = (pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('postgres');
    } catch {
      return false;
    }
  };
  const pids = () =>
    withPgClient(ownerUrl, async (c) => (await c.query('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [dbName])).rows.map((r) => r.pid));
  const ticks = (pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      return undefined;
    }
  };
  let start;
  try {
    start = new Map((await pids()).map((pid) => [pid, ticks(pid)]));
  } catch {
    return async () => null;
  }
  const t0 = process.hrtime.bigint();
  return async () => {
    try {
      const elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
      const now = await pids();
      let total = 0;
      let seen = 0;
      for (const pid of new Set([...start.keys(), ...now])) {
        if (!isPostgres(pid)) continue;
        const t = ticks(pid);
        if (t === undefined) continue; // gone (its time since the start is lost) or not readable
        total += t - (start.get(pid) ?? 0);
        seen++;
      }
      if (seen === 0) return null;
      const ms = (total * 1000) / ticksPerSecond;
      return { pct_of_core: Math.round((ms / 10 / elapsedS) * 10) / 10, ms: Math.round(ms), backends: seen };
    } catch {
      return null;
    }
  };
}
