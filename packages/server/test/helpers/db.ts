// Fresh, migrated databases for integration tests: on DATABASE_URL's server, or on one embedded PostgreSQL per test
// process (started on first use in a temporary directory, removed when the process ends).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { QueryResult, QueryResultRow } from 'pg';
import { isAlive, isPostmasterOf, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { appConnectionUrl } from '../../src/db/database.js';

export interface TestDatabase {
  /** Database name, `gcorp_t_<random>`. */
  name: string;
  /** Superuser/owner connection to the new database: migrations ran as it. */
  ownerUrl: string;
  /** gcorp_app connection to the new database (password included when the server wants one). */
  appUrl: string;
  /** gcorp_app's password, when the server authenticates with passwords (embedded PostgreSQL does). */
  appPassword: string | undefined;
  /** Drops the database, disconnecting whatever is still connected to it. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** Run the migrations on the new database (default true). */
  migrate?: boolean;
}

interface Cluster {
  adminUrl: string;
  appPassword: string | undefined;
}

const TEMP_PREFIX = 'gcorp-test-pg-';
const MARKER_FILE = 'test-process.pid';
// Only for throwaway test clusters: durability buys nothing there, and CREATE DATABASE fsyncs a lot.
const TEST_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

let cluster: Promise<Cluster> | undefined;

export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const { adminUrl, appPassword } = await (cluster ??= openCluster());
  const name = `gcorp_t_${randomBytes(6).toString('hex')}`;
  await ownerQuery(adminUrl, `CREATE DATABASE ${name}`);
  const ownerUrl = withDatabase(adminUrl, name);
  try {
    if (options.migrate ?? true) await migrate(ownerUrl, { appPassword });
  } catch (err) {
    await ownerQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    throw err;
  }
  return {
    name,
    ownerUrl,
    appUrl: appConnectionUrl(ownerUrl, appPassword),
    appPassword,
    async drop() {
      await ownerQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Runs one statement on a short-lived connection; for arranging and asserting as the owner or any other role. */
export async function ownerQuery<R extends QueryResultRow = Record<string, unknown>>(
  url: string,
  sql: string,
  values?: unknown[],
): Promise<QueryResult<R>> {
  const client = new pg.Client({ connectionString: url, application_name: 'gcorp-test' });
  await client.connect();
  try {
    return await client.query<R>(sql, values);
  } finally {
    await client.end();
  }
}

/** `url` pointing at another database of the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function openCluster(): Promise<Cluster> {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    // With password authentication the app role needs one too; every test process must agree on it (roles are
    // shared by all databases of the server). Trust authentication (no password in the URL) needs none.
    const appPassword = new URL(databaseUrl).password
      ? (process.env.GCORP_DB_APP_PASSWORD ?? 'gcorp-test-app-password')
      : undefined;
    return { adminUrl: databaseUrl, appPassword };
  }
  reapOrphanedClusters();
  const dataDir = mkdtempSync(path.join(tmpdir(), TEMP_PREFIX));
  writeFileSync(path.join(dataDir, MARKER_FILE), `${process.pid}\n`);
  const embedded = await startEmbeddedPostgres({ dataDir, settings: TEST_SETTINGS });
  removeAtExit(embedded);
  return { adminUrl: embedded.url, appPassword: embedded.appPassword };
}

/**
 * Exit handlers run synchronously, and vitest ends its worker processes with SIGTERM (then SIGKILL after 500 ms),
 * which skips 'exit' handlers unless the signal is handled: so both are covered, with an immediate shutdown. When the
 * vitest main process dies without ending its workers, the IPC channel closes: the PostgreSQL child would keep the
 * orphaned worker alive forever, so it goes then too.
 */
function removeAtExit(embedded: EmbeddedPostgres): void {
  let done = false;
  const cleanUp = (): void => {
    if (done) return;
    done = true;
    try {
      process.kill(embedded.pid, 'SIGQUIT');
    } catch {
      // Already gone.
    }
    const until = Date.now() + 2_000;
    while (isAlive(embedded.pid) && Date.now() < until) sleepSync(10);
    rmSync(embedded.dataDir, { recursive: true, force: true });
  };
  process.once('exit', cleanUp);
  process.once('disconnect', cleanUp);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanUp();
      process.off(signal, onSignal);
      // Die of the signal as the process would have without this handler, unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Clusters of test processes that were killed outright (SIGKILL) are still running; stop and delete them. */
function reapOrphanedClusters(): void {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const dir = path.join(tmpdir(), entry);
    const owner = readPid(path.join(dir, MARKER_FILE));
    if (owner === undefined || isAlive(owner)) continue;
    const postmaster = readPid(path.join(dir, 'pgdata', 'postmaster.pid'));
    if (postmaster !== undefined && isAlive(postmaster) && isPostmasterOf(postmaster, path.join(dir, 'pgdata'))) {
      try {
        process.kill(postmaster, 'SIGQUIT');
      } catch {
        // Gone meanwhile.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n', 1)[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
