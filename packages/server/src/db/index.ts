// The database layer's public surface: embedded PostgreSQL, migrations, the app-role connection and its errors.
export { startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded.js';
export { migrate, APP_ROLE, DEFINER_ROLE, MIGRATIONS_DIR, type MigrateOptions, type MigrateResult } from './migrate.js';
export {
  openDatabase,
  prepared,
  type PreparedStatement,
  appConnectionUrl,
  type Database,
  type OpenDatabaseOptions,
  type Queryable,
  type TransactionOptions,
} from './database.js';
export * from './errors.js';
export { silentLogger, type DbLogger } from './logger.js';
