// Applies packages/server/migrations/*.sql in name order, once per database, and ensures the roles they rely on.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { MigrationError, MigrationRoleSetupError } from './errors.js';
import { silentLogger, type DbLogger } from './logger.js';

export const APP_ROLE = 'gcorp_app';
export const DEFINER_ROLE = 'gcorp_definer';

/** Same path from src/db (tests) and dist/db (built server): the package's migrations folder. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Key of the session advisory lock that makes concurrent servers migrate one after the other (per database). */
const MIGRATION_LOCK_KEY = 7_310_482_913;

export interface MigrateOptions {
  /** Progress (applied versions, created roles) and warnings: a logger, or a function taking one line. */
  log?: DbLogger | ((message: string) => void);
  /** Password of the gcorp_app role: set when the role is created, and updated when it no longer matches. */
  appPassword?: string;
  /** Defaults to the package's migrations folder. */
  migrationsDir?: string;
}

export interface MigrateResult {
  /** Versions (file names without .sql) applied by this call, in order. */
  applied: string[];
}

interface MigrationFile {
  version: string;
  sql: string;
  checksum: string;
}

/**
 * Brings the database at `ownerUrl` up to date. The owner role needs to create the two cluster-wide roles (a
 * superuser can); otherwise a MigrationRoleSetupError says which statements a superuser must run first.
 */
export async function migrate(ownerUrl: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = toLogger(options.log);
  const files = await readMigrations(options.migrationsDir ?? MIGRATIONS_DIR);
  const client = new pg.Client({ connectionString: ownerUrl, application_name: 'gcorp-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await ensureRoles(client, options.appPassword, log);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    text PRIMARY KEY,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ version: string; checksum: string }>(
        'SELECT version, checksum FROM schema_migrations',
      );
      const done = new Map(rows.map((r) => [r.version, r.checksum]));
      const applied: string[] = [];
      for (const file of files) {
        const previous = done.get(file.version);
        if (previous !== undefined) {
          if (previous !== file.checksum) {
            log.warn({ version: file.version }, 'applied migration file has changed since; edits to it are not applied');
          }
          continue;
        }
        const started = Date.now();
        await applyMigration(client, file);
        applied.push(file.version);
        log.info({ version: file.version, ms: Date.now() - started }, 'applied migration');
      }
      return { applied };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

function toLogger(log: MigrateOptions['log']): DbLogger {
  if (log === undefined) return silentLogger;
  if (typeof log !== 'function') return log;
  const line = (fields: object, msg?: string): void => {
    const details = Object.entries(fields).map(([k, v]) => `${k}=${String(v)}`).join(' ');
    log([msg, details].filter(Boolean).join(' '));
  };
  return { debug: line, info: line, warn: line, error: line };
}

async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const names = (await fs.readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await fs.readFile(path.join(dir, name), 'utf8');
      return { version: name.slice(0, -'.sql'.length), sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

async function applyMigration(client: pg.Client, file: MigrationFile): Promise<void> {
  try {
    await client.query('BEGIN');
    await client.query(file.sql); // No parameters: the simple protocol runs the file's statements in one go.
    await client.query('INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)', [file.version, file.checksum]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new MigrationError(file.version, err);
  }
}

/**
 * Roles are cluster-wide, so databases migrated at the same time (parallel tests, several hubs on one server) race
 * to create them: CREATE ROLE runs in a block that treats "already exists" from either check as success.
 */
async function ensureRoles(client: pg.Client, appPassword: string | undefined, log: DbLogger): Promise<void> {
  const { rows } = await client.query<{ rolname: string }>(
    'SELECT rolname FROM pg_roles WHERE rolname = ANY($1)',
    [[DEFINER_ROLE, APP_ROLE]],
  );
  const present = new Set(rows.map((r) => r.rolname));
  const verifier = appPassword === undefined ? undefined : scramVerifier(appPassword);
  const setupSql = (user: string): string =>
    [
      `CREATE ROLE ${DEFINER_ROLE} NOLOGIN BYPASSRLS;`,
      `CREATE ROLE ${APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB PASSWORD '<GCORP_DB_APP_PASSWORD>';`,
      `GRANT ${DEFINER_ROLE} TO ${client.escapeIdentifier(user)};`,
    ].join('\n');

  const create = async (role: string, attributes: string): Promise<void> => {
    if (present.has(role)) return;
    try {
      await client.query(`DO $do$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN
          CREATE ROLE ${role} ${attributes};
        END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- created by a concurrent migration
      END $do$`);
      log.info({ role }, 'created database role');
    } catch (err) {
      if ((err as { code?: string }).code !== '42501') throw err;
      const user = await currentUser(client);
      throw new MigrationRoleSetupError(`The role "${user}" running the migrations cannot create the role ${role}.`, setupSql(user), err);
    }
  };
  await create(DEFINER_ROLE, 'NOLOGIN BYPASSRLS');
  await create(
    APP_ROLE,
    `LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB${verifier ? ` PASSWORD ${client.escapeLiteral(verifier)}` : ''}`,
  );

  // Handing functions to gcorp_definer requires being able to act as it (superusers can anyway).
  const { rows: [me] } = await client.query<{ name: string; rolsuper: boolean; member: boolean }>(
    `SELECT current_user AS name, r.rolsuper, pg_has_role(current_user, $1, 'MEMBER') AS member
       FROM pg_roles r WHERE r.rolname = current_user`,
    [DEFINER_ROLE],
  );
  if (me && !me.rolsuper && !me.member) {
    throw new MigrationRoleSetupError(
      `The role "${me.name}" running the migrations is not a member of ${DEFINER_ROLE}.`,
      `GRANT ${DEFINER_ROLE} TO ${client.escapeIdentifier(me.name)};`,
    );
  }

  if (appPassword !== undefined && present.has(APP_ROLE)) await updateAppPassword(client, appPassword, log);
}

/**
 * Keeps the app role's password in line with the configured one. Reading the stored verifier first avoids
 * rewriting it on every start, which concurrent migrations of other databases would collide on.
 */
async function updateAppPassword(client: pg.Client, password: string, log: DbLogger): Promise<void> {
  const stored = await client
    .query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [APP_ROLE])
    .then((r) => r.rows[0]?.rolpassword ?? null, () => undefined); // pg_authid is readable by superusers only
  if (stored !== undefined && stored !== null && passwordMatches(stored, password)) return;
  try {
    await client.query(`DO $do$ BEGIN
      FOR attempt IN 1..20 LOOP
        BEGIN
          ALTER ROLE ${APP_ROLE} PASSWORD ${client.escapeLiteral(scramVerifier(password))};
          RETURN;
        EXCEPTION WHEN internal_error THEN -- "tuple concurrently updated": another database's migration won
          PERFORM pg_sleep(0.02 * attempt);
        END;
      END LOOP;
    END $do$`);
    log.info({ role: APP_ROLE }, 'updated database role password');
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err;
    log.warn({ role: APP_ROLE }, 'cannot update the password of the app role; it must match GCORP_DB_APP_PASSWORD');
  }
}

async function currentUser(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ name: string }>('SELECT current_user AS name');
  return rows[0]?.name ?? 'unknown';
}

/**
 * The role password as a SCRAM-SHA-256 verifier (RFC 5802/7677, PostgreSQL's storage format), so the plain password
 * never appears in statement text that server logs may record.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const { storedKey, serverKey } = scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

function scramKeys(password: string, salt: Buffer, iterations: number): { storedKey: Buffer; serverKey: Buffer } {
  // PostgreSQL applies SASLprep; NFKC normalisation covers it for the printable passwords we generate or accept.
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return {
    storedKey: createHash('sha256').update(clientKey).digest(),
    serverKey: createHmac('sha256', salted).update('Server Key').digest(),
  };
}

function passwordMatches(stored: string, password: string): boolean {
  const scram = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(stored);
  if (scram) {
    const [, iterations, salt, storedKey] = scram as unknown as [string, string, string, string];
    const expected = scramKeys(password, Buffer.from(salt, 'base64'), Number(iterations)).storedKey;
    const actual = Buffer.from(storedKey, 'base64');
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
  if (stored.startsWith('md5')) {
    return stored === `md5${createHash('md5').update(password + APP_ROLE).digest('hex')}`;
  }
  return false;
}
