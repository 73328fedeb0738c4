// Starts the whole hub: database (embedded when DATABASE_URL is unset), migrations, role check, app, listener.
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp, loggerOptions } from './app.js';
import { loadConfig, type Config, type ConfigOverrides } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { appConnectionUrl } from './db/database.js';
import { startEmbeddedPostgres } from './db/embedded.js';
import { APP_ROLE, migrate } from './db/migrate.js';
import { RunExecutor } from './runs/executor.js';
import { createRunQueue, migrateQueueSchema, type RunQueue } from './runs/queue.js';
import { RunSweeper } from './runs/sweeper.js';
import { createRuntimes } from './runtimes/index.js';
import { prepareBootstrapToken, type BootstrapTokenState } from './services/bootstrap.js';
import { loadInstanceKeys } from './services/secrets.js';

export interface RunningHub {
  app: FastifyInstance;
  url: string;
  config: Config;
  db: Database;
  bootstrap: BootstrapTokenState;
  close(): Promise<void>;
}

export interface StartOptions extends ConfigOverrides {
  /** Pino logger options or `false`; defaults to JSON logs at the configured level. */
  logger?: Parameters<typeof buildApp>[0]['logger'];
  listen?: boolean;
}

/** Opens the database the configuration names, starting an embedded PostgreSQL when none is given. */
export async function openHubDatabase(config: Config, log: pino.Logger) {
  let ownerUrl = config.databaseUrl;
  let appPassword = config.databaseAppPassword;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!ownerUrl) {
    const embedded = await startEmbeddedPostgres({ dataDir: join(config.dataDir, 'postgres'), logger: log });
    ownerUrl = embedded.url;
    appPassword ??= embedded.appPassword;
    stopEmbedded = () => embedded.stop();
    log.info({ dataDir: config.dataDir }, 'embedded PostgreSQL started');
  }
  try {
    if (config.migrate) {
      await migrate(ownerUrl, { appPassword, log: (m: string) => log.info(m) });
      if (!config.redisUrl) await migrateQueueSchema(ownerUrl, APP_ROLE);
    }
    const appUrl = config.databaseAppUrl ?? appConnectionUrl(ownerUrl, appPassword);
    const db = openDatabase({ ownerUrl, appUrl: config.databaseAppUrl, appPassword });
    if (!config.redisUrl) {
      const queueSchema = await db.query<{ ok: boolean }>(`select to_regclass('bullmq.migration') is not null as ok`).catch(() => null);
      if (!queueSchema?.rows[0]?.ok) {
        await db.close();
        throw new Error('the run queue is not set up in this database (schema bullmq): run `gcorp-server migrate` first, or set REDIS_URL');
      }
    }
    try {
      await db.checkRole();
    } catch (err) {
      await db.close();
      throw err;
    }
    return {
      db,
      appUrl,
      async close() {
        await db.close();
        await stopEmbedded?.();
      },
    };
  } catch (err) {
    await stopEmbedded?.();
    throw err;
  }
}

export async function startHub(opts: StartOptions = {}): Promise<RunningHub> {
  const { logger, listen = true, ...overrides } = opts;
  const config = loadConfig(overrides);
  const log = pino({ ...(loggerOptions(config.logLevel) as object), ...(logger === false ? { level: 'silent' } : {}) });
  const { db, appUrl, close: closeDb } = await openHubDatabase(config, log);
  let app: FastifyInstance | undefined;
  let queue: RunQueue | undefined;
  let executor: RunExecutor | undefined;
  let sweeper: RunSweeper | undefined;
  const stopRuns = async () => {
    await sweeper?.stop();
    await executor?.stop();
    await queue?.close();
  };
  try {
    const keys = await loadInstanceKeys(config.secretKey, config.dataDir);
    const bootstrap = await prepareBootstrapToken(db, { envToken: config.bootstrapToken, dataDir: config.dataDir });
    let queueDown = false;
    queue = createRunQueue({
      redisUrl: config.redisUrl,
      postgresUrl: appUrl,
      namespace: new URL(appUrl).pathname.slice(1) || 'default',
      onError: (err) => {
        if (queueDown) return;
        queueDown = true;
        log.warn({ err: err.message }, 'run queue unreachable; runs wait in the outbox until it is back');
        setTimeout(() => (queueDown = false), 60_000).unref();
      },
    });
    app = await buildApp({ config, db, keys, queue, logger: logger ?? loggerOptions(config.logLevel) });
    const { services, metrics } = app.hub;
    const onFinished = services.runs.onFinished;
    sweeper = new RunSweeper(db, services.runs, { intervalMs: config.sweepIntervalMs, outboxGraceMs: 2_000, log: app.log, onFinished });
    sweeper.start();
    if (config.workerConcurrency > 0) {
      const runtimes = createRuntimes({
        providers: config.providers,
        // A tenant's own provider settings (PUT /v1/tenant/providers/{provider}) win over the instance's, per provider.
        tenantProviders: (tenantId) => services.providers.runtimeSettings(tenantId),
        webhook: {
          allowPrivate: config.allowPrivateWebhooks,
          timeoutMs: config.webhookTimeoutMs,
          maxAttempts: config.webhookMaxAttempts,
          maxResponseBytes: config.webhookMaxResponseBytes,
        },
      });
      executor = new RunExecutor(db, services.agents, runtimes, queue, services.runs, {
        leaseMs: config.runLeaseMs,
        concurrency: config.workerConcurrency,
        log: app.log,
        onFinished,
        runSlot: services.usage.runSlotGuard(),
        onRunStarted: () => metrics.runsStarted.inc(),
        onRunEnded: (status, usage) => {
          metrics.runsFinished.inc({ status });
          if (!usage) return;
          metrics.usageRuns.inc();
          metrics.usageTokens.inc({ direction: 'input' }, usage.input_tokens);
          metrics.usageTokens.inc({ direction: 'output' }, usage.output_tokens);
        },
      });
      await executor.start();
    }
    let url = '';
    if (listen) {
      await app.listen({ host: config.host, port: config.port });
      const a = app.server.address();
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      url = typeof a === 'object' && a ? `http://${host}:${a.port}` : '';
    }
    const running = app;
    return {
      app: running,
      url,
      config,
      db,
      bootstrap,
      async close() {
        // Stop accepting requests first, then hand unfinished runs back to the queue, then let go of the database.
        await running.close();
        await stopRuns();
        await closeDb();
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await stopRuns().catch(() => undefined);
    await closeDb();
    throw err;
  }
}
