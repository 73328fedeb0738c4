// Server side of bench/core.js (and of bench/runs.js's floor), in its own process so it does not share a core with the
// load generator. Serves one target on a free loopback port, chosen by the `{type:'start', config}` message from the
// parent:
//   hub      the hub via startHub (on the database the parent prepared)
//   bare     bare Fastify 5, logger off, `GET /me` answering `config.meBody` (the hub's /v1/me body)
//   bare-pg  bare Fastify 5 + pg Pool (max 10) as gcorp_app, `GET /api-keys/:id` doing the hub's getApiKey work
//   floor    bench/runs.js's floor: bare Fastify 5 + pg Pool (max 10, the hub's size) as the database owner, no auth,
//            RLS, queue, limits, metrics or logging, doing the least a durable echo run needs (startFloor below):
//            `POST /runs` and `GET /runs/:id/wait`, 3 commits per run, on its own tables floor_runs and floor_run_events
// and answers `{type:'ready', url, info}`. Stops on `{type:'stop'}`, or when the parent goes away. Exiting through
// process.exit lets `node --cpu-prof` write its profile; BENCH_CPU_PROF profiles the measured runs only (inspector).
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { appDatabaseUrl, importDependency, importServer, processCpuMeter, redactUrl, startCpuProfile } from '../lib.js';

const API_KEY_COLUMNS = 'id, tenant_id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at';

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
    console.error(`core-server: close failed: ${err?.message ?? err}`);
    code = code || 1;
  }
  process.exit(code);
}

/** Answers the parent; a parent already gone is no error (the 'disconnect' handler stops this process). */
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

/** BENCH_CPU_PROF: the parent profiles each measured run (`profile-start`, then `profile-stop` with the file to write). */
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
  if (config.kind === 'bare') return startBare(config);
  if (config.kind === 'bare-pg') return startBarePg(config);
  if (config.kind === 'floor') return startFloor(config);
  throw new Error(`unknown server kind ${config.kind}`);
}

async function startHubTarget(config) {
  const { startHub, DEFAULT_PLANS } = await importServer();
  // Load from one client must not be cut off by the plan's requests per minute: every plan gets a limit far above
  // what the machine can serve, so the limiter still runs on every request (as in production) but never refuses.
  const plans = Object.fromEntries(
    Object.entries(DEFAULT_PLANS).map(([name, limits]) => [name, { ...limits, requests_per_minute: 1_000_000_000 }]),
  );
  const hub = await startHub({
    plans,
    databaseUrl: config.ownerUrl,
    databaseAppPassword: config.appPassword,
    dataDir: config.dataDir,
    port: 0,
    host: '127.0.0.1',
    logger: false,
    logLevel: 'silent',
    bootstrapToken: config.bootstrapToken,
    secretKey: config.secretKey,
  });
  closeServer = () => hub.close();
  return { url: hub.url, info: { pid: process.pid } };
}

async function listen(app) {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return `http://127.0.0.1:${address.port}`;
}

async function startBare(config) {
  const Fastify = (await importDependency('fastify')).default;
  const app = Fastify({ logger: false });
  const body = config.meBody;
  app.get('/me', async () => body);
  closeServer = () => app.close();
  return { url: await listen(app), info: { pid: process.pid, bodyBytes: JSON.stringify(body).length } };
}

async function startBarePg(config) {
  const Fastify = (await importDependency('fastify')).default;
  const pg = (await importDependency('pg')).default;
  const tenantId = config.tenantId;

  // Connect as the hub's app role, as the hub builds its URL; fall back to the owner URL (and say so) if that fails.
  const candidates = [
    ['gcorp_app', appDatabaseUrl(config.ownerUrl, config.appPassword)],
    ['owner', config.ownerUrl],
  ];
  const failures = [];
  let pool;
  let connectedAs;
  for (const [role, connectionString] of candidates) {
    const candidate = new pg.Pool({ connectionString, max: 10, application_name: 'gcorp-bench', connectionTimeoutMillis: 10_000 });
    candidate.on('error', () => undefined); // an idle connection dropping must not crash the benchmark server
    try {
      await candidate.query('select 1');
      pool = candidate;
      connectedAs = role;
      break;
    } catch (err) {
      failures.push(`${role} (${redactUrl(connectionString)}): ${err.message}`);
      await candidate.end().catch(() => undefined);
    }
  }
  if (!pool) throw new Error(`bare-pg could not connect: ${failures.join('; ')}`);

  const app = Fastify({ logger: false });
  // The hub's transaction, round trip for round trip: BEGIN and set_config in one simple-protocol round trip, the
  // parameterised select, COMMIT (packages/server/src/db/database.ts, services/api-keys.ts getApiKey).
  app.get('/api-keys/:id', async (req, reply) => {
    const client = await pool.connect();
    try {
      await client.query(`BEGIN ISOLATION LEVEL READ COMMITTED; SELECT set_config('app.tenant_id', ${client.escapeLiteral(tenantId)}, true)`);
      const res = await client.query(`select ${API_KEY_COLUMNS} from api_keys where id = $1`, [req.params.id]);
      await client.query('COMMIT');
      client.release();
      const row = res.rows[0];
      if (!row) return reply.code(404).send({ error: 'not_found' });
      return row;
    } catch (err) {
      let broken;
      await client.query('ROLLBACK').catch((rollbackErr) => {
        broken = rollbackErr;
      });
      client.release(broken);
      throw err;
    }
  });
  closeServer = async () => {
    await app.close();
    await pool.end();
  };
  return { url: await listen(app), info: { pid: process.pid, connectedAs, connectFailures: failures } };
}

const FLOOR_RUN_COLUMNS = 'id, agent, status, input, output, error, created_at, started_at, finished_at';
const FLOOR_TERMINAL = new Set(['succeeded', 'failed']);

/**
 * The floor of bench/runs.js: the cheapest durable implementation of the documented echo run, to show what any
 * implementation could reach on this machine. Per run, 2 HTTP requests and 3 commits, each one statement (autocommit):
 *   POST /runs            inserts the run ('queued') and its run.queued event, committed before the 201 answer; the
 *                         run is then executed in this process (no queue):
 *                         commit 2: the run 'running' (started_at) and its run.started event;
 *                         commit 3: echo's events (`input.events` run.output.delta, else one carrying the input), run.usage,
 *                         run.completed and the final state 'succeeded' with output = input; then an in-process signal.
 *   GET /runs/:id/wait    reads the run; when not finished, waits for the signal (at most `?timeout=` seconds, default
 *                         30), reads it again; answers 200 with the finished run, 202 with an unfinished one.
 * The tables are created on start when missing (the parent gives a fresh database; later rounds reuse them).
 */
async function startFloor(config) {
  const Fastify = (await importDependency('fastify')).default;
  const pg = (await importDependency('pg')).default;
  const pool = new pg.Pool({ connectionString: config.ownerUrl, max: config.poolSize ?? 10, application_name: 'gcorp-bench-floor', connectionTimeoutMillis: 10_000 });
  pool.on('error', () => undefined); // an idle connection dropping must not crash the benchmark server
  await pool.query(`
    create table if not exists floor_runs (
      id          text primary key,
      agent       text not null,
      status      text not null,
      input       jsonb,
      output      jsonb,
      error       jsonb,
      created_at  timestamptz not null default now(),
      started_at  timestamptz,
      finished_at timestamptz
    );
    create table if not exists floor_run_events (
      run_id     text not null references floor_runs on delete cascade,
      seq        integer not null,
      type       text not null,
      data       jsonb not null default '{}',
      created_at timestamptz not null default now(),
      primary key (run_id, seq)
    )`);

  const finished = new EventEmitter();
  finished.setMaxListeners(0);
  let executeFailures = 0;

  const execute = async (run) => {
    try {
      // Commit 2: started.
      await pool.query(
        `with started as (update floor_runs set status = 'running', started_at = now() where id = $1 and status = 'queued' returning id)
         insert into floor_run_events (run_id, seq, type) select id, 2, 'run.started' from started`,
        [run.id],
      );
      // The echo: its deltas, then usage and completion, stored with the final state in commit 3.
      const input = run.input;
      const n = input !== null && typeof input === 'object' && Number.isInteger(input.events) ? input.events : undefined;
      const output = input === undefined ? null : input;
      const events =
        n === undefined
          ? [{ type: 'run.output.delta', data: { delta: input } }]
          : Array.from({ length: n }, (_, i) => ({ type: 'run.output.delta', data: { delta: `chunk ${i + 1}` } }));
      events.push({ type: 'run.usage', data: { input_tokens: 0, output_tokens: 0 } });
      events.push({ type: 'run.completed', data: { status: 'succeeded', output, error: null } });
      await pool.query(
        `with done as (update floor_runs set status = 'succeeded', output = $2::jsonb, finished_at = now() where id = $1 and status = 'running' returning id)
         insert into floor_run_events (run_id, seq, type, data)
         select done.id, 2 + e.ord, e.ev->>'type', e.ev->'data' from done, jsonb_array_elements($3::jsonb) with ordinality as e(ev, ord)`,
        [run.id, JSON.stringify(output), JSON.stringify(events)],
      );
    } catch (err) {
      if (executeFailures++ < 5) console.error(`floor: run ${run.id} failed: ${err?.message ?? err}`);
      await pool
        .query(`update floor_runs set status = 'failed', error = $2::jsonb, finished_at = now() where id = $1 and status <> 'succeeded'`, [
          run.id,
          JSON.stringify({ detail: String(err?.message ?? err) }),
        ])
        .catch(() => undefined);
    }
    finished.emit(run.id);
  };

  const readRun = async (id) => (await pool.query(`select ${FLOOR_RUN_COLUMNS} from floor_runs where id = $1`, [id])).rows[0];

  const app = Fastify({ logger: false });
  app.post('/runs', async (req, reply) => {
    const body = req.body;
    if (body === null || typeof body !== 'object' || body.agent !== 'echo') return reply.code(422).send({ error: 'agent must be echo' });
    const input = body.input === undefined ? null : body.input;
    // Commit 1: the run and its run.queued event, before the answer.
    const res = await pool.query(
      `with r as (insert into floor_runs (id, agent, status, input) values ($1, $2, 'queued', $3::jsonb) returning ${FLOOR_RUN_COLUMNS}),
       q as (insert into floor_run_events (run_id, seq, type) select id, 1, 'run.queued' from r)
       select * from r`,
      [`run_${randomUUID()}`, body.agent, JSON.stringify(input)],
    );
    const run = res.rows[0];
    void execute(run);
    return reply.code(201).send(run);
  });
  app.get('/runs/:id/wait', async (req, reply) => {
    const { id } = req.params;
    const timeoutS = Math.min(Math.max(Number(req.query?.timeout ?? 30) || 0, 0), 60);
    // Listening before the read: a run that finishes in between is not missed.
    let onFinished;
    const signalled = new Promise((resolve) => {
      onFinished = resolve;
      finished.once(id, resolve);
    });
    let run;
    try {
      run = await readRun(id);
      if (run && !FLOOR_TERMINAL.has(run.status) && timeoutS > 0) {
        let timer;
        const timedOut = new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutS * 1000);
        });
        await Promise.race([signalled, timedOut]);
        clearTimeout(timer);
        run = await readRun(id);
      }
    } finally {
      finished.off(id, onFinished);
    }
    if (!run) return reply.code(404).send({ error: 'not_found' });
    return reply.code(FLOOR_TERMINAL.has(run.status) ? 200 : 202).send(run);
  });
  closeServer = async () => {
    await app.close();
    await pool.end();
  };
  return { url: await listen(app), info: { pid: process.pid, poolSize: config.poolSize ?? 10 } };
}
