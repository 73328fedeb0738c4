// The server's connection to PostgreSQL as the gcorp_app role: tenant-scoped transactions, LISTEN/NOTIFY, health.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { QueryResult, QueryResultRow } from 'pg';
import { DatabaseRoleError, TransactionAbortedError, toDatabaseError } from './errors.js';
import { silentLogger, type DbLogger } from './logger.js';
import { APP_ROLE } from './migrate.js';

export interface Queryable {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's own default: rows stay untyped until the caller names their shape with query<Row>(...)
  query<R extends QueryResultRow = any>(text: string | PreparedStatement, values?: unknown[]): Promise<QueryResult<R>>;
}

/** A statement each connection parses and plans once (see prepared()). */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

/**
 * Marks a hot statement to be prepared once per connection and then only bound and executed: PostgreSQL skips parsing
 * and planning it again, which is most of the cost of a short statement. Its name comes from its text, so the same
 * text always gets the same name; only for texts the code holds (a handful per module), never built from input.
 */
export function prepared(text: string): PreparedStatement {
  let statement = preparedByText.get(text);
  if (!statement) {
    statement = { name: `gcorp_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`, text };
    preparedByText.set(text, statement);
  }
  return statement;
}
const preparedByText = new Map<string, PreparedStatement>();

export interface TransactionOptions {
  /** Default `read committed`. Under the stricter levels, be ready for SerializationFailureError and run again. */
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
  /**
   * Sends COMMIT right behind the statements `fn` issued synchronously, without waiting for their results: the whole
   * transaction costs one round trip. Only for a `fn` whose statements decide everything (it must not throw, or
   * issue more statements, after awaiting a result): if a statement fails the transaction rolls back and its error is
   * thrown, but an error `fn` raises itself after its statements succeeded comes too late to undo them.
   */
  commitEarly?: boolean;
  /**
   * Takes `pg_advisory_xact_lock(hashtext(lock))` in the opening round trip (after BEGIN and the tenant), so every
   * statement of `fn` runs, with a fresh snapshot, after the lock is held.
   */
  lock?: string;
  /** Takes `lock` in share mode (`pg_advisory_xact_lock_shared`): it excludes only holders of the exclusive lock. */
  lockShared?: boolean;
}

export interface Database extends Queryable {
  /**
   * Runs `fn` in a transaction that sees and writes only `tenantId`'s rows; commits, or rolls back if it throws.
   * Errors come out typed (UniqueViolationError, SerializationFailureError, ...: see errors.ts).
   */
  tenant<T>(tenantId: string, fn: (q: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Runs `fn` in a transaction with no tenant set: global tables only (tenant tables show no rows). */
  global<T>(fn: (q: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Subscribes to a NOTIFY channel; resolves once listening, with the function that unsubscribes. The connection is
   * re-established when lost; notifications sent meanwhile are gone, so `onReconnect` runs afterwards to drop
   * whatever they keep fresh (caches of keys, revocations).
   */
  listen(channel: string, onPayload: (payload: string) => void, onReconnect?: () => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  /** Throws DatabaseRoleError unless the app role is subject to row-level security and owns nothing. */
  checkRole(): Promise<void>;
  /** True when a trivial query answers within `timeoutMs` (default 2000). Never throws. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** DATABASE_URL: the owner's connection. Only used to derive the app URL; this module never connects as owner. */
  ownerUrl: string;
  /** DATABASE_APP_URL; defaults to ownerUrl with the user replaced by gcorp_app and the password by appPassword. */
  appUrl?: string;
  appPassword?: string;
  /** Pool size (default 10). The LISTEN connection comes on top. */
  max?: number;
  logger?: DbLogger;
}

const APPLICATION_NAME = 'gcorp-server';
const ISOLATION_LEVELS = new Set(['read committed', 'repeatable read', 'serializable']);

/** The URL the server connects with: DATABASE_APP_URL, or DATABASE_URL as gcorp_app. */
export function appConnectionUrl(ownerUrl: string, appPassword?: string): string {
  const url = new URL(ownerUrl);
  url.username = APP_ROLE;
  url.password = appPassword === undefined ? '' : encodeURIComponent(appPassword);
  return url.toString();
}

export function openDatabase(options: OpenDatabaseOptions): Database {
  const logger = options.logger ?? silentLogger;
  const connectionString = options.appUrl ?? appConnectionUrl(options.ownerUrl, options.appPassword);
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: APPLICATION_NAME,
    idleTimeoutMillis: 30_000,
    // A bounded wait, so requests fail (and /readyz turns red) instead of queueing forever when PostgreSQL is gone.
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    // Pipelining: a statement is written as soon as it is issued, without waiting for the answer to the one before
    // (PostgreSQL still runs them in order). A transaction's BEGIN travels with its first statement, and statements
    // issued together (Promise.all, commitEarly) share one round trip.
    pipeline: true,
  });
  // Idle clients whose server went away emit errors here; unhandled, they would crash the process.
  pool.on('error', (err) => logger.warn({ err }, 'idle database connection failed'));
  // pg-pool removes its idle listener while a client is checked out, so a connection the server ends between two
  // statements (PostgreSQL shutting down on the same Ctrl-C as the hub, an administrator's pg_terminate_backend)
  // would emit an 'error' nobody listens to and crash the process. The statement in flight still gets the error.
  pool.on('connect', (client) => {
    client.on('error', (err) => logger.warn({ err }, 'database connection failed'));
  });
  const listener = new Listener(connectionString, logger);

  async function transaction<T>(
    tenantId: string | undefined,
    fn: (q: Queryable) => Promise<T>,
    options: TransactionOptions | undefined,
  ): Promise<T> {
    const isolation = options?.isolation ?? 'read committed';
    if (!ISOLATION_LEVELS.has(isolation)) throw new TypeError(`unknown isolation level: ${String(isolation)}`);
    const client = await pool.connect().catch((err: unknown) => {
      throw toDatabaseError(err);
    });
    // One round trip opens the transaction and sets the tenant. set_config(..., true) lasts until COMMIT/ROLLBACK,
    // so a pooled connection never carries a tenant into the next transaction.
    const begin =
      `BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}` +
      (tenantId === undefined ? '' : `; SELECT set_config('app.tenant_id', ${client.escapeLiteral(tenantId)}, true)`) +
      (options?.lock === undefined
        ? ''
        : `; SELECT pg_advisory_xact_lock${options.lockShared ? '_shared' : ''}(hashtext(${client.escapeLiteral(options.lock)}))`);
    let finished = false;
    const scoped: Queryable = {
      query(text, values) {
        // A query issued after the transaction ended would run on a connection that may already serve another
        // tenant's transaction.
        if (finished) return Promise.reject(new Error('query issued after its database transaction had ended'));
        return runQuery(client, text, values);
      },
    };
    // Not awaited on its own: the connection is pipelined, so BEGIN goes out now and fn's first statement right
    // behind it; a failed BEGIN fails every statement after it, and is reported below. The socket is corked while fn
    // runs synchronously, so BEGIN and the statements fn issues before its first await leave in one write.
    const stream = (client as unknown as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream;
    stream?.cork?.();
    let corked = true;
    const uncork = () => {
      if (corked) stream?.uncork?.();
      corked = false;
    };
    const began = client.query(begin);
    began.catch(() => undefined);
    let committing: Promise<pg.QueryResult> | undefined;
    try {
      let pending: Promise<T>;
      try {
        pending = fn(scoped);
        if (options?.commitEarly) {
          committing = client.query('COMMIT');
          committing.catch(() => undefined);
        }
      } finally {
        uncork();
      }
      const result = await pending;
      await began;
      const commit = await (committing ?? client.query('COMMIT'));
      finished = true;
      client.release();
      // PostgreSQL answers COMMIT of a transaction aborted by a failed statement with ROLLBACK, not an error: that
      // happens when fn caught a query error and went on. Nothing was saved, so the caller must not think otherwise.
      if (commit.command === 'ROLLBACK') throw new TransactionAbortedError();
      return result;
    } catch (err) {
      if (finished) throw err;
      finished = true;
      // A failed BEGIN is the cause of whatever fn saw.
      const cause = await began.then(
        () => err,
        (beginErr: unknown) => beginErr,
      );
      let broken: Error | undefined;
      // The early COMMIT (if sent and answered) ended the transaction already, as a ROLLBACK when a statement failed.
      const ended = committing ? await committing.then(() => true, (commitErr: Error) => ((broken = commitErr), false)) : false;
      if (!ended && !broken) {
        await client.query('ROLLBACK').catch((rollbackErr: Error) => {
          broken = rollbackErr;
        });
      }
      client.release(broken); // A connection that cannot roll back is discarded rather than reused.
      throw toDatabaseError(cause);
    }
  }

  return {
    tenant(tenantId, fn, options) {
      if (typeof tenantId !== 'string' || tenantId === '') {
        return Promise.reject(new TypeError('tenant(): tenantId must be a non-empty string'));
      }
      return transaction(tenantId, fn, options);
    },
    global(fn, options) {
      return transaction(undefined, fn, options);
    },
    query(text, values) {
      return runQuery(pool, text, values);
    },
    listen(channel, onPayload, onReconnect) {
      return listener.subscribe(channel, { onPayload, onReconnect });
    },
    async notify(channel, payload) {
      await runQuery(pool, 'SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async checkRole() {
      const { rows } = await runQuery<RoleFacts>(pool, ROLE_FACTS_SQL);
      const facts = rows[0];
      if (!facts) throw new DatabaseRoleError('(unknown)', ['its attributes could not be read']);
      const problems = [
        facts.rolsuper && 'it is a superuser',
        facts.rolbypassrls && 'it has BYPASSRLS',
        facts.owns_database && 'it owns the database (or is a member of its owner)',
        facts.owned_schemas.length > 0 && `it owns (or is a member of the owner of) schema ${facts.owned_schemas.join(', ')}`,
        facts.owned_relations.length > 0 &&
          `it owns (or is a member of the owner of) ${facts.owned_relations.slice(0, 5).join(', ')}` +
            (facts.owned_relations.length > 5 ? ` and ${facts.owned_relations.length - 5} more` : ''),
        facts.privileged_roles.length > 0 && `it can act as ${facts.privileged_roles.join(', ')}, which bypass row-level security`,
      ].filter((p): p is string => typeof p === 'string');
      if (problems.length > 0) throw new DatabaseRoleError(facts.role, problems);
    },
    async ping(timeoutMs = 2_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const probe = pool.query('SELECT 1').then(
        () => true,
        () => false,
      );
      try {
        return await Promise.race([probe, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await listener.close();
      await pool.end();
    },
  };
}

async function runQuery<R extends QueryResultRow>(
  target: pg.Pool | pg.PoolClient,
  text: string | PreparedStatement,
  values?: unknown[],
): Promise<QueryResult<R>> {
  try {
    if (typeof text !== 'string') return await target.query<R>({ name: text.name, text: text.text, values });
    return await target.query<R>(text, values);
  } catch (err) {
    throw toDatabaseError(err);
  }
}

interface RoleFacts {
  role: string;
  rolsuper: boolean;
  rolbypassrls: boolean;
  owns_database: boolean;
  owned_schemas: string[];
  owned_relations: string[];
  privileged_roles: string[];
}

// Owning a table (directly or through role membership) would let the role turn row-level security off; being able
// to SET ROLE to a superuser or BYPASSRLS role (gcorp_definer included) would skip it. System schemas are left out.
const ROLE_FACTS_SQL = `
  SELECT r.rolname AS role, r.rolsuper, r.rolbypassrls,
         pg_has_role(current_user, d.datdba, 'MEMBER') AS owns_database,
         ARRAY(SELECT n.nspname::text FROM pg_namespace n
                WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
                  AND pg_has_role(current_user, n.nspowner, 'MEMBER')
                ORDER BY 1) AS owned_schemas,
         ARRAY(SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
                  AND pg_has_role(current_user, c.relowner, 'MEMBER')
                ORDER BY 1) AS owned_relations,
         ARRAY(SELECT o.rolname::text FROM pg_roles o
                WHERE (o.rolsuper OR o.rolbypassrls) AND o.oid <> r.oid AND pg_has_role(current_user, o.oid, 'MEMBER')
                ORDER BY 1) AS privileged_roles
    FROM pg_roles r, pg_database d
   WHERE r.rolname = current_user AND d.datname = current_database()`;

interface Subscriber {
  onPayload: (payload: string) => void;
  onReconnect: (() => void) | undefined;
}

const HEARTBEAT_MS = 30_000;
const HEARTBEAT_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 5_000;

/**
 * One dedicated connection carries every LISTEN of a Database (pooled connections cannot: LISTEN belongs to a
 * session). When it drops, it is re-established with exponential backoff and jitter, the channels are listened to
 * again, and subscribers' onReconnect hooks run. A periodic query notices connections that died silently.
 */
class Listener {
  private readonly channels = new Map<string, Set<Subscriber>>();
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly connectionString: string,
    private readonly logger: DbLogger,
  ) {}

  async subscribe(channel: string, subscriber: Subscriber): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('listen() called after the database was closed');
    let subscribers = this.channels.get(channel);
    const firstForChannel = subscribers === undefined;
    if (!subscribers) {
      subscribers = new Set();
      this.channels.set(channel, subscribers);
    }
    subscribers.add(subscriber);
    try {
      if (this.reconnectTimer === undefined) {
        // Connected or connecting: make sure this channel is listened to before resolving. While a reconnect is
        // pending, it will LISTEN to every channel, this one included, and call onReconnect.
        const client = await this.connection();
        if (firstForChannel && this.client === client) await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
      }
    } catch (err) {
      subscribers.delete(subscriber);
      if (subscribers.size === 0) this.channels.delete(channel);
      throw toDatabaseError(err);
    }

    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      const set = this.channels.get(channel);
      if (!set?.delete(subscriber) || set.size > 0) return;
      this.channels.delete(channel);
      const client = this.client;
      if (client) await client.query(`UNLISTEN ${client.escapeIdentifier(channel)}`).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeat);
    this.channels.clear();
    const client = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: `${APPLICATION_NAME}-listen`,
      keepAlive: true,
    });
    // Errors of a connection already replaced are expected noise; without a listener they would crash the process.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      for (const subscriber of this.channels.get(message.channel) ?? []) {
        try {
          subscriber.onPayload(message.payload ?? '');
        } catch (err) {
          this.logger.error({ err, channel: message.channel }, 'notification handler failed');
        }
      }
    });
    try {
      await client.connect();
      for (const channel of this.channels.keys()) await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      throw new Error('database closed while connecting the listener');
    }
    this.client = client;
    this.startHeartbeat(client);
    return client;
  }

  private lost(client: pg.Client, err?: Error): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    clearInterval(this.heartbeat);
    this.logger.warn({ err }, 'LISTEN connection lost; reconnecting');
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    const base = Math.min(MAX_BACKOFF_MS, 100 * 2 ** this.failures);
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connection().then(
        () => {
          this.failures = 0;
          this.logger.info({ channels: [...this.channels.keys()] }, 'LISTEN connection re-established');
          for (const subscribers of this.channels.values()) {
            for (const subscriber of subscribers) {
              try {
                subscriber.onReconnect?.();
              } catch (err) {
                this.logger.error({ err }, 'onReconnect handler failed');
              }
            }
          }
        },
        (err: unknown) => {
          this.failures++;
          this.logger.warn({ err, failures: this.failures }, 'LISTEN reconnect failed');
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  private startHeartbeat(client: pg.Client): void {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('LISTEN connection heartbeat timed out')), HEARTBEAT_TIMEOUT_MS);
      });
      Promise.race([client.query('SELECT 1'), timedOut])
        .catch((err: Error) => this.lost(client, err))
        .finally(() => clearTimeout(timer));
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }
}
