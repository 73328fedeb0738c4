// gcorp server start: the hub (the @genericcorp/server package) in the foreground, as `gcorp-server start` runs it.
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../base-command.js';
import { CliError, usageError } from '../../lib/errors.js';
import { ExitCode } from '../../lib/exit-codes.js';

export default class ServerStart extends BaseCommand<typeof ServerStart> {
  static override summary = 'Run the hub in the foreground (embedded PostgreSQL unless DATABASE_URL is set).';
  static override description = `Starts the hub in this process: the API and a worker that executes runs. Without DATABASE_URL it starts an embedded PostgreSQL in the data directory (nothing to install); with REDIS_URL runs travel through Redis, otherwise through PostgreSQL. Prints "listening on http://HOST:PORT" once it accepts requests, and on the first start the one-time bootstrap token (then create the first tenant with \`gcorp self-host bootstrap\`). Ctrl-C stops it. The same as \`gcorp-server start\`, with the same flags and GCORP_* environment variables; needs the @genericcorp/server package (installed beside the CLI).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --port 8080 --host 0.0.0.0 --data-dir ./hub-data',
    {
      description: 'On an external PostgreSQL and Redis:',
      command: 'DATABASE_URL=postgres://gcorp@db/gcorp REDIS_URL=redis://cache:6379 <%= config.bin %> <%= command.id %>',
    },
  ];
  static override flags = {
    host: Flags.string({ description: 'Interface to listen on (default 127.0.0.1). Env: GCORP_HOST.' }),
    port: Flags.integer({ description: 'Port to listen on (default 4100; 0 picks a free one). Env: GCORP_PORT.', min: 0, max: 65535 }),
    'data-dir': Flags.string({ description: 'Where the embedded database, secret key and bootstrap token live. Env: GCORP_DATA_DIR.' }),
    'log-level': Flags.string({ description: 'Log level of the hub (default info).', options: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }),
  };

  async run(): Promise<void> {
    let server: typeof import('@genericcorp/server');
    try {
      server = await import('@genericcorp/server');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
      throw new CliError('`gcorp server start` needs the hub, which is not installed beside the CLI.', {
        code: 'server_not_installed',
        title: 'Server package missing',
        hint: 'Install it: npm install -g @genericcorp/server (or run it with Docker: gcorp self-host init).',
      });
    }
    const overrides: Record<string, unknown> = {
      host: this.flags.host,
      port: this.flags.port,
      dataDir: this.flags['data-dir'],
      logLevel: this.flags['log-level'],
    };
    for (const key of Object.keys(overrides)) if (overrides[key] === undefined) delete overrides[key];

    let hub: Awaited<ReturnType<typeof server.startHub>>;
    try {
      hub = await server.startHub({ ...overrides, listen: true });
    } catch (err) {
      if (err instanceof server.ConfigError) throw usageError(err.message);
      throw err;
    }
    // The token lines come first, so that whoever waits for "listening on" already has them.
    if (hub.bootstrap.generatedToken) {
      this.out.print(`bootstrap token (shown once, also in ${hub.bootstrap.tokenFile}): ${hub.bootstrap.generatedToken}`);
      this.out.print(`create the first tenant with: gcorp self-host bootstrap --server ${hub.url}`);
    } else if (!hub.bootstrap.bootstrapped && hub.bootstrap.tokenFile) {
      this.out.print(`not bootstrapped yet; the bootstrap token is in ${hub.bootstrap.tokenFile}`);
    }
    this.out.print(`listening on ${hub.url}`);

    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        hub.app.log.info({ signal }, 'shutting down');
        const timer = setTimeout(() => process.exit(ExitCode.FAILURE), 15_000);
        timer.unref();
        hub.close().then(resolve, (err: unknown) => {
          process.stderr.write(`error while stopping: ${(err as Error).message}\n`);
          process.exitCode = ExitCode.FAILURE;
          resolve();
        });
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  }
}
