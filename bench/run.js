// Runs the benchmarks in bench/ one after the other, each as its own `node bench/<name>.js` process so one crashing
// does not hide the others, then prints a summary. `node bench/run.js core usage` runs only those.
//
// A benchmark module is any bench/*.js other than lib.js and run.js (helpers live in subfolders). Each writes
// bench/results/<name>.json with `goals` ({name, status: PASS|MISS|INVALID, detail}) and `valid`.
// Exit status: 0 when every module ran and measured; 1 when one failed to run, timed out or measured nothing valid
// (errors or non-2xx responses); a missed goal is reported as a MISS line, and does not change the exit status.
// BENCH_MODULE_TIMEOUT_S bounds each module (default 1800; the modules also bound themselves).
import { spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, EXIT_TIMED_OUT, RESULTS_DIR, ROOT, envInt, printTable, readResults } from './lib.js';

const ORDER = ['core', 'runs', 'propagation', 'usage', 'sdk', 'cli'];
const NOT_MODULES = new Set(['lib.js', 'run.js']);

const available = readdirSync(BENCH_DIR)
  .filter((f) => f.endsWith('.js') && !NOT_MODULES.has(f))
  .map((f) => f.slice(0, -'.js'.length))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(`usage: node bench/run.js [module ...]\nmodules: ${available.join(', ')}`);
  process.exit(0);
}
const unknown = args.filter((a) => !available.includes(a));
if (unknown.length > 0) {
  console.error(`unknown benchmark module ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
const selected = args.length > 0 ? [...new Set(args)] : available;
const moduleTimeoutMs = envInt('BENCH_MODULE_TIMEOUT_S', 1800, { min: 10, max: 4 * 3600 }) * 1000;

let current;
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    interrupted = true;
    console.error(`\nrun.js: ${signal}; stopping ${current ? `bench/${current.name}.js` : ''}`);
    current?.kill('SIGTERM');
  });
}

const summary = [];
for (const name of selected) {
  if (interrupted) {
    summary.push({ name, status: 'skipped', seconds: 0, results: undefined });
    continue;
  }
  console.log(`\n=== bench/${name}.js ===`);
  rmSync(join(RESULTS_DIR, `${name}.json`), { force: true }); // never summarise a previous run's file
  const started = Date.now();
  const outcome = await runModule(name);
  const seconds = (Date.now() - started) / 1000;
  const results = readResults(name);
  let status;
  if (outcome.timedOut || outcome.code === EXIT_TIMED_OUT) status = 'timed out';
  else if (outcome.signal) status = `killed (${outcome.signal})`;
  else if (outcome.code === 130) status = 'interrupted';
  else if (outcome.code !== 0) {
    const measuredInvalid = results && results.valid === false && (results.errors ?? []).length === 0;
    status = `${measuredInvalid ? 'invalid' : 'failed'} (exit ${outcome.code})`;
  } else if (!results) status = 'failed (no results file)';
  else status = 'ok';
  summary.push({ name, status, seconds, results });
}

console.log('\n=== summary ===');
printTable(
  [{ title: 'module' }, { title: 'status' }, { title: 'time s', align: 'right' }, { title: 'PASS', align: 'right' }, { title: 'MISS', align: 'right' }, { title: 'INVALID', align: 'right' }],
  summary.map((s) => {
    const goals = s.results?.goals ?? [];
    const count = (status) => goals.filter((g) => g.status === status).length;
    return [s.name, s.status, s.seconds.toFixed(1), count('PASS'), count('MISS'), count('INVALID')];
  }),
);
const goalLines = summary.flatMap((s) => (s.results?.goals ?? []).map((g) => `${g.status} ${s.name}/${g.name}: ${g.detail}`));
if (goalLines.length > 0) console.log(`\n${goalLines.join('\n')}`);
const failed = summary.filter((s) => s.status !== 'ok');
process.exit(failed.length > 0 || interrupted ? 1 : 0);

function rank(name) {
  const i = ORDER.indexOf(name);
  return i === -1 ? ORDER.length : i;
}

/** Runs one module in its own process group (so a timeout can stop it and everything it started). */
function runModule(name) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(BENCH_DIR, `${name}.js`)], { cwd: ROOT, stdio: 'inherit', detached: true });
    let timedOut = false;
    let killTimer;
    const killGroup = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    current = {
      name,
      kill(signal) {
        killGroup(signal);
        killTimer ??= setTimeout(() => killGroup('SIGKILL'), 45_000);
      },
    };
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`run.js: bench/${name}.js exceeded ${moduleTimeoutMs / 1000} s; stopping it`);
      current.kill('SIGTERM');
    }, moduleTimeoutMs);
    child.once('error', (err) => {
      console.error(`run.js: could not start bench/${name}.js: ${err.message}`);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      current = undefined;
      resolve({ code, signal, timedOut });
    });
  });
}
