// Typed database errors, so services can map storage failures to domain errors without reading SQLSTATE codes.

/** A PostgreSQL error the services may want to react to; `code` is the SQLSTATE. */
export class DatabaseError extends Error {
  readonly code: string;
  readonly constraint: string | undefined;
  readonly table: string | undefined;
  readonly detail: string | undefined;

  constructor(message: string, fields: { code: string; constraint?: string; table?: string; detail?: string }, cause: unknown) {
    super(message, { cause });
    this.name = new.target.name;
    this.code = fields.code;
    this.constraint = fields.constraint;
    this.table = fields.table;
    this.detail = fields.detail;
  }
}

/** 23505: a row with the same unique key exists; `constraint` names the index (e.g. `users_email_lower_key`). */
export class UniqueViolationError extends DatabaseError {}

/** 23503: the row points at a row that does not exist (or is still referenced, on delete). */
export class ForeignKeyViolationError extends DatabaseError {}

/** 23514: a CHECK constraint refused the value (e.g. an unknown plan or role). */
export class CheckViolationError extends DatabaseError {}

/** 40001 / 40P01: the transaction lost a race with another one; running it again is safe and expected to succeed. */
export class SerializationFailureError extends DatabaseError {
  readonly retryable = true;
}

/** 42501 from a row-level security policy: the row's tenant_id is not the transaction's tenant. */
export class RowSecurityViolationError extends DatabaseError {}

/**
 * A statement in the transaction failed and the callback caught the error instead of letting it propagate, so
 * PostgreSQL rolled everything back at COMMIT. Statements that are allowed to fail belong in a SAVEPOINT.
 */
export class TransactionAbortedError extends Error {
  constructor() {
    super(
      'The transaction was rolled back: one of its statements failed and the callback caught the error. ' +
        'Run statements that may fail inside a SAVEPOINT, or let the error propagate.',
    );
    this.name = 'TransactionAbortedError';
  }
}

/** The application role may bypass tenant isolation; the server must not start with it. */
export class DatabaseRoleError extends Error {
  readonly problems: readonly string[];

  constructor(role: string, problems: readonly string[]) {
    super(
      `The database role "${role}" used by the server must not be able to bypass row-level security: ` +
        `${problems.join('; ')}. Connect with the gcorp_app role created by \`gcorp-server migrate\` ` +
        '(DATABASE_APP_URL, or DATABASE_URL with GCORP_DB_APP_PASSWORD).',
    );
    this.name = 'DatabaseRoleError';
    this.problems = problems;
  }
}

/** The migrating role cannot create or use the roles the hub needs; `sql` is what a superuser must run once. */
export class MigrationRoleSetupError extends Error {
  readonly sql: string;

  constructor(reason: string, sql: string, cause?: unknown) {
    super(`${reason} Ask a superuser to run, once:\n\n${sql}\n\nthen run the migrations again.`, { cause });
    this.name = 'MigrationRoleSetupError';
    this.sql = sql;
  }
}

/** A migration file failed; nothing of it was applied. */
export class MigrationError extends Error {
  readonly version: string;

  constructor(version: string, cause: unknown) {
    super(`Migration ${version} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'MigrationError';
    this.version = version;
  }
}

interface PgErrorFields {
  code: string;
  message: string;
  constraint?: string;
  table?: string;
  detail?: string;
}

function isPgError(err: unknown): err is Error & PgErrorFields {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === 'string' &&
    typeof (err as { severity?: unknown }).severity === 'string'
  );
}

/** Returns the typed error for the PostgreSQL errors services handle, and any other error unchanged. */
export function toDatabaseError(err: unknown): unknown {
  if (!isPgError(err)) return err;
  const fields = { code: err.code, constraint: err.constraint, table: err.table, detail: err.detail };
  switch (err.code) {
    case '23505':
      return new UniqueViolationError(err.message, fields, err);
    case '23503':
      return new ForeignKeyViolationError(err.message, fields, err);
    case '23514':
      return new CheckViolationError(err.message, fields, err);
    case '40001':
    case '40P01':
      return new SerializationFailureError(err.message, fields, err);
    case '42501':
      return err.message.includes('row-level security') ? new RowSecurityViolationError(err.message, fields, err) : err;
    default:
      return err;
  }
}
