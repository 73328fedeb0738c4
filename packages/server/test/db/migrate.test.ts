import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MigrationError } from '../../src/db/errors.js';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../helpers/db.js';

const databases: TestDatabase[] = [];
async function freshDatabase(migrated: boolean): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrate: migrated });
  databases.push(db);
  return db;
}

afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

async function migrationFiles(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort().map((f) => f.slice(0, -4));
}

async function appliedVersions(url: string): Promise<string[]> {
  const { rows } = await ownerQuery<{ version: string }>(url, 'SELECT version FROM schema_migrations ORDER BY version');
  return rows.map((r) => r.version);
}

describe('migrate', () => {
  it('finds the migrations folder next to src and dist', async () => {
    expect(path.basename(MIGRATIONS_DIR)).toBe('migrations');
    expect(await migrationFiles()).toContain('0001_core');
  });

  it('applies every migration once; running it again changes nothing', async () => {
    const db = await freshDatabase(false);
    const first = await migrate(db.ownerUrl, { appPassword: db.appPassword });
    expect(first.applied).toEqual(await migrationFiles());
    const second = await migrate(db.ownerUrl, { appPassword: db.appPassword });
    expect(second.applied).toEqual([]);
    expect(await appliedVersions(db.ownerUrl)).toEqual(await migrationFiles());
  });

  it('two servers migrating one database at the same time apply each migration exactly once', async () => {
    const db = await freshDatabase(false);
    const results = await Promise.all([
      migrate(db.ownerUrl, { appPassword: db.appPassword }),
      migrate(db.ownerUrl, { appPassword: db.appPassword }),
      migrate(db.ownerUrl, { appPassword: db.appPassword }),
    ]);
    expect(results.flatMap((r) => r.applied).sort()).toEqual(await migrationFiles());
    expect(await appliedVersions(db.ownerUrl)).toEqual(await migrationFiles());
  });

  it('databases migrated side by side share the cluster-wide roles without conflict', async () => {
    const dbs = await Promise.all([freshDatabase(false), freshDatabase(false), freshDatabase(false)]);
    await Promise.all(dbs.map((db) => migrate(db.ownerUrl, { appPassword: db.appPassword })));
    for (const db of dbs) expect(await appliedVersions(db.ownerUrl)).toEqual(await migrationFiles());
  });

  it('creates gcorp_app subject to row-level security and gcorp_definer able to bypass it', async () => {
    const db = await freshDatabase(true);
    const { rows } = await ownerQuery<{ rolname: string; rolcanlogin: boolean; rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>(
      db.ownerUrl,
      `SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb
         FROM pg_roles WHERE rolname IN ('gcorp_app', 'gcorp_definer') ORDER BY rolname`,
    );
    expect(rows).toEqual([
      { rolname: 'gcorp_app', rolcanlogin: true, rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false },
      { rolname: 'gcorp_definer', rolcanlogin: false, rolsuper: false, rolbypassrls: true, rolcreaterole: false, rolcreatedb: false },
    ]);
  });

  it('every table with tenant data forces row-level security with the tenant policy', async () => {
    // Guards future migrations too: any table with a tenant_id column must be isolated like the core ones.
    const db = await freshDatabase(true);
    const { rows } = await ownerQuery<{ table: string; enabled: boolean; forced: boolean; using: string | null; check: string | null }>(
      db.ownerUrl,
      `SELECT c.relname AS table, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
              pg_get_expr(p.polqual, p.polrelid) AS using, pg_get_expr(p.polwithcheck, p.polrelid) AS check
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
         LEFT JOIN pg_policy p ON p.polrelid = c.oid
        WHERE c.relkind = 'r'
          AND (c.relname = 'tenants'
               OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'))
          AND c.relname <> 'device_codes'
        ORDER BY 1`,
    );
    expect(rows.map((r) => r.table)).toEqual(expect.arrayContaining(['api_keys', 'auth_sessions', 'memberships', 'refresh_tokens', 'tenants']));
    for (const row of rows) {
      const column = row.table === 'tenants' ? 'id' : 'tenant_id';
      const expected = `(${column} = current_setting('app.tenant_id'::text, true))`;
      expect(row, row.table).toMatchObject({ enabled: true, forced: true, using: expected, check: expected });
    }
  });

  it('a failing migration leaves nothing of itself behind and names its file', async () => {
    const db = await freshDatabase(false);
    const dir = await mkdtemp(path.join(tmpdir(), 'gcorp-migrations-'));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      await writeFile(path.join(dir, '9999_broken.sql'), 'CREATE TABLE half_done (id int);\nSELECT 1 / 0;\n');
      const failure = await migrate(db.ownerUrl, { appPassword: db.appPassword, migrationsDir: dir }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(MigrationError);
      expect((failure as MigrationError).version).toBe('9999_broken');
      expect((failure as Error).message).toMatch(/9999_broken.*division by zero/);
      expect(await appliedVersions(db.ownerUrl)).toEqual(await migrationFiles());
      const { rows } = await ownerQuery(db.ownerUrl, "SELECT to_regclass('half_done') AS t");
      expect(rows[0]).toEqual({ t: null });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('warns instead of re-running an applied migration whose file was edited', async () => {
    const db = await freshDatabase(false);
    const dir = await mkdtemp(path.join(tmpdir(), 'gcorp-migrations-'));
    try {
      await writeFile(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (id int);');
      await migrate(db.ownerUrl, { appPassword: db.appPassword, migrationsDir: dir });
      await writeFile(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (id bigint);');
      const lines: string[] = [];
      const result = await migrate(db.ownerUrl, { appPassword: db.appPassword, migrationsDir: dir, log: (l) => lines.push(l) });
      expect(result.applied).toEqual([]);
      expect(lines.join('\n')).toMatch(/0001_a/);
      expect(lines.join('\n')).toMatch(/changed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
