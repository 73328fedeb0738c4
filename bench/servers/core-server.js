// Server side of bench/core.js, in its own process so it does not share a core with the load generator. Serves one
// target on a free loopback port, chosen by the `{type:'start', config}` message from the parent:
//   hub      the hub via startHub (on the database the parent prepared)
//   bare     bare Fastify 5, logger off, `GET /me` answering `config.meBody` (the hub's /v1/me body)
//   bare-pg  bare Fastify 5 + pg Pool (max 10) as gcorp_app, `GET /api-keys/:id` doing the hub's getApiKey work
// and answers `{type:'ready', url, info}`. Stops on `{type:'stop'}`, or when the parent goes away. Exiting through
// process.exit lets `node --cpu-prof` write its profile; BENCH_CPU_PROF profiles the measured runs only (inspector).
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
