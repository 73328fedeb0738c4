#!/usr/bin/env node
// gcorp-server start|worker|migrate: the hub's own command line.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { startHub } from './hub.js';

const USAGE = `Usage: gcorp-server <command> [flags]

Commands:
  start     run the hub in the foreground (embedded PostgreSQL unless DATABASE_URL is set); it also executes
            runs unless GCORP_WORKER_CONCURRENCY=0
  worker    execute runs only (no HTTP), sharing DATABASE_URL (and REDIS_URL) with the API processes
  migrate   apply database migrations and exit

Flags:
  --host HOST        interface to listen on (default 127.0.0.1, env GCORP_HOST)
  --port PORT        port to listen on (default 4100, 0 picks a free one, env GCORP_PORT)
  --data-dir DIR     where the embedded database, secret key and bootstrap token live (env GCORP_DATA_DIR)
  --log-level LEVEL  fatal|error|warn|info|debug|trace|silent (default info)
  --concurrency N    runs one process executes at once (default 8, env GCORP_WORKER_CONCURRENCY)
  -h, --help         show this help
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`gcorp-server: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        'log-level': { type: 'string' },
        concurrency: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    process.exit(command || values.help ? 0 : 2);
  }
  const overrides = {
    host: values.host,
    port: values.port,
    dataDir: values['data-dir'],
    logLevel: values['log-level'],
    workerConcurrency: values.concurrency,
  } as Record<string, unknown>;
  for (const k of Object.keys(overrides)) if (overrides[k] === undefined) delete overrides[k];

  if (command === 'migrate') {
    const config = loadConfig(overrides);
    const { openHubDatabase } = await import('./hub.js');
    const pino = (await import('pino')).default;
    const { close } = await openHubDatabase(config, pino({ level: config.logLevel }));
    await close();
    process.stdout.write('migrations applied\n');
    return;
  }
  if (command !== 'start' && command !== 'worker') fail(`unknown command "${command}"\n\n${USAGE}`);
  if (command === 'worker') {
    const config = loadConfig(overrides);
    if (!config.databaseUrl) fail('gcorp-server worker needs DATABASE_URL: it shares the database of the API processes');
    if (config.workerConcurrency < 1) fail('gcorp-server worker needs a concurrency of at least 1');
  }

  const hub = await startHub({ ...overrides, listen: command === 'start' });
  if (command === 'worker') {
    process.stdout.write(`worker ready (concurrency ${hub.config.workerConcurrency})\n`);
    onSignals(hub);
    return;
  }
  // The token lines come first so that whoever waits for "listening on" has everything once it appears.
  if (hub.bootstrap.generatedToken) {
    process.stdout.write(
      `bootstrap token (shown once, also in ${hub.bootstrap.tokenFile}): ${hub.bootstrap.generatedToken}\n` +
        `create the first tenant with: gcorp self-host bootstrap --server ${hub.url}\n`,
    );
  } else if (!hub.bootstrap.bootstrapped && hub.bootstrap.tokenFile) {
    process.stdout.write(`not bootstrapped yet; the bootstrap token is in ${hub.bootstrap.tokenFile}\n`);
  }
  process.stdout.write(`listening on ${hub.url}\n`);
  onSignals(hub);
}

function onSignals(hub: Awaited<ReturnType<typeof startHub>>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    hub.app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => process.exit(1), 15_000);
    timer.unref();
    await hub.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) fail(err.message);
  const message = err instanceof Error ? err.message : String(err);
  fail(message, 1);
});
