// Rate limits (PRODUCT.md, issue 4). Every authenticated request counts against its credential (the API key, or the
// session of an access token) and against its tenant, each allowed the tenant's requests_per_minute (a per-tenant
// override in tenants.limits, else the plan's); responses say where the caller stands in the IETF draft's
// `RateLimit-Policy` and `RateLimit` headers, and a request over either limit gets 429 `rate_limited` with
// `Retry-After` before anything else runs. Sign-ins (login, the device-code poll, the device page's and the console's
// sign-in forms) count per client address, and failed ones per account and address.
//
// The counters live in Redis when REDIS_URL is set, else in PostgreSQL (table rate_limits), so all server processes
// share them. When the store fails, each process counts in its own memory (rate-limiter-flexible's insurance
// limiter) until the store answers again: one warning per outage, every failed store operation counted in
// gcorp_rate_limit_store_errors_total, and never a 5xx because of it.
//
// Clock skew: no shared window depends on a server process's wall clock. In Redis a window is the key's TTL (SET EX,
// PTTL: Redis's clock); in PostgreSQL `expire` is set and compared with the database's now() (DbClockPostgres
// below); the in-process blocks of refused keys are measured on the monotonic clock. A process whose clock is off
// thus neither restarts nor stretches anyone's window. (The local fallback, used only while the store is down,
// counts on its own process's timers, which is all it can do.)
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import client from 'prom-client';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config, PlanLimits } from '../config.js';
import type { Database } from '../db/database.js';
import { DEVICE_GRANT } from '../services/device.js';
import type { Principal } from '../services/principal.js';
import { ProblemError } from './problem.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request was counted against its caller's limits (set only while limits are on). */
    rateLimitCounted?: boolean;
    /** The account key of a sign-in attempt counted before it ran, to settle once it is answered (null: none). */
    rateLimitSignIn?: string | null;
  }
}

/** The window of the per-credential and per-tenant limits, in seconds. */
export const WINDOW_SECONDS = 60;
/** Sign-in limits: requests per client address to the sign-in endpoints together, failed sign-ins per account and address. */
export const SIGN_IN_LIMITS = {
  address: { points: 100, duration: 60 },
  account: { points: 10, duration: 15 * 60 },
} as const;

/** How long a tenant's requests_per_minute is reused before it is read again. */
const TENANT_LIMIT_TTL_MS = 5_000;
const REDIS_CONNECT_TIMEOUT_MS = 1_000;
const REDIS_COMMAND_TIMEOUT_MS = 1_000;
const CLEANUP_INTERVAL_MS = 5 * 60_000;
/** A lease takes this fraction (1/n) of what the shared counter has left; see SharedLimit. */
const LEASE_SHARE = 16;
/** Bound of every per-key map this module keeps in memory. */
const MAX_TRACKED = 10_000;
const TABLE = 'rate_limits';

type StoreKind = 'redis' | 'postgres';
type LimitName = 'credential' | 'tenant' | 'address' | 'account';

/** Where a caller stands against one limit after a request. */
interface Verdict {
  name: LimitName;
  /** The policy name shown in the headers. */
  policy: string;
  limit: number;
  windowSeconds: number;
  remaining: number;
  resetMs: number;
  refused: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Store health and the local fallback

/** Knows whether the shared store currently answers; logs once per outage and counts every failed operation. */
class StoreHealth {
  private degraded = false;
  /** The store's last error, for the outage warning (the library hands its insurance limiter no error). */
  lastError: unknown;

  constructor(
    readonly store: StoreKind,
    private readonly log: FastifyBaseLogger,
    private readonly errors: client.Counter<'store'>,
  ) {}

  failedOver(): void {
    this.errors.inc({ store: this.store });
    if (this.degraded) return;
    this.degraded = true;
    this.log.warn(
      { err: this.lastError, store: this.store },
      `rate limit store (${this.store}) unavailable: limits are counted in this process only until it answers again`,
    );
  }

  answered(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.log.info({ store: this.store }, `rate limit store (${this.store}) answers again: limits are shared again`);
  }
}

/** Results that came from the local fallback rather than the shared store. */
const fromFallback = new WeakSet<object>();

function tagged<T>(result: Promise<T>): Promise<T> {
  return result.then(
    (res) => {
      if (res && typeof res === 'object') fromFallback.add(res);
      return res;
    },
    (err: unknown) => {
      if (err instanceof RateLimiterRes) fromFallback.add(err);
      throw err;
    },
  );
}

type LimiterOptions = Record<string, unknown>;

/**
 * The insurance limiter of every shared limiter: rate-limiter-flexible calls it when the store fails. It counts in
 * this process's memory (so with N processes a caller may get up to N times the limit during an outage) and reports
 * each use to the store's health.
 */
class LocalFallback extends RateLimiterMemory {
  constructor(
    opts: { points: number; duration: number; keyPrefix: string },
    private readonly health: StoreHealth,
  ) {
    super(opts);
  }

  override consume(key: string | number, points?: number, options?: LimiterOptions): Promise<RateLimiterRes> {
    this.health.failedOver();
    return tagged(super.consume(key, points, options));
  }

  override reward(key: string | number, points?: number, options?: LimiterOptions): Promise<RateLimiterRes> {
    this.health.failedOver();
    return tagged(super.reward(key, points, options));
  }

  override get(key: string | number, options?: LimiterOptions): Promise<RateLimiterRes | null> {
    this.health.failedOver();
    return tagged(super.get(key, options));
  }

  override delete(key: string | number, options?: LimiterOptions): Promise<boolean> {
    this.health.failedOver();
    return super.delete(key, options);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Limits

/** Points this process took from the shared counter of one key, handed out locally until they or the window run out. */
interface Lease {
  points: number;
  /** What the shared counter had left after this lease was taken. */
  storeRemaining: number;
  /** End of the window, on the monotonic clock. */
  until: number;
}

/**
 * One limit (points per window) on the shared store.
 *
 * Leases: a process does not ask the store for every request. It takes a share of what the shared counter has left
 * (1/LEASE_SHARE of it, at least 1 point) in one atomic consume and hands those points out itself until they or the
 * window run out, then takes another. The shared counter never hands out more than the limit, so the limit holds
 * across processes; as it runs low the shares shrink to single points, so the limit stays exact at its edge (points
 * a process took but did not use before the window ended are lost, at most a share per process). A busy key thus
 * costs one store round trip per share instead of one per request, and a request its process's leases cover is
 * counted synchronously (usableLease(), countFromLeases() below): no promise, no store, a few map look-ups.
 * The price is precision of the report, not of the limit: `RateLimit`'s remaining count is what the shared counter
 * had left when this process took its lease, plus the lease's unused points; it is exact with one process, and with
 * several it does not subtract what the others hold unused in their leases (at most a share each).
 *
 * Keys it refused are blocked in this process until their window ends, so a client hammering past its limit costs
 * no store round trip at all.
 */
class SharedLimit {
  private readonly leases = new Map<string, Lease>();
  private readonly taking = new Map<string, Promise<Verdict | undefined>>();
  private readonly blockedUntil = new Map<string, number>();

  /** The `RateLimit-Policy` value, constant for the limit. */
  readonly policyHeader: string;
  /** The start of every `RateLimit` value of the limit. */
  readonly ratePrefix: string;

  constructor(
    readonly name: LimitName,
    readonly policy: string,
    private readonly limiter: RateLimiterAbstract,
    private readonly health: StoreHealth,
    /** false: every request goes to the store (counts that are given back later, like failed sign-ins). */
    private readonly leasing: boolean,
  ) {
    this.policyHeader = `"${policy}";q=${limiter.points};w=${limiter.duration}`;
    this.ratePrefix = `"${policy}";r=`;
  }

  /**
   * This process's lease of `key` when it has a point left in a window still open at `now` (monotonic clock), for
   * the synchronous path of a request; undefined when consume() must run. A key blocked here has no lease (take()
   * drops it when it refuses, and no new one is taken while the block lasts).
   */
  usableLease(key: string, now: number): Lease | undefined {
    const lease = this.leases.get(key);
    return lease !== undefined && lease.points > 0 && lease.until > now ? lease : undefined;
  }

  /** The verdict for a key blocked in this process, without asking the store; undefined when it is not. */
  blocked(key: string): Verdict | undefined {
    const until = this.blockedUntil.get(key);
    if (until === undefined) return undefined;
    const left = until - performance.now();
    if (left > 0) return this.verdict(0, left, true);
    this.blockedUntil.delete(key);
    return undefined;
  }

  async consume(key: string): Promise<Verdict> {
    for (;;) {
      const blocked = this.blocked(key);
      if (blocked) return blocked;
      const lease = this.leases.get(key);
      const now = performance.now();
      if (lease && lease.points > 0 && lease.until > now) {
        lease.points--;
        return this.verdict(lease.storeRemaining + lease.points, lease.until - now, false);
      }
      // One lease taken at a time per key; requests arriving meanwhile wait for it and share it.
      let taking = this.taking.get(key);
      if (!taking) {
        taking = this.take(key, lease).finally(() => this.taking.delete(key));
        this.taking.set(key, taking);
      }
      const refused = await taking;
      if (refused) return refused;
    }
  }

  async reward(key: string): Promise<void> {
    await this.limiter.reward(key, 1);
  }

  async delete(key: string): Promise<void> {
    this.leases.delete(key);
    this.blockedUntil.delete(key);
    await this.limiter.delete(key);
  }

  /** Takes a lease from the store; resolves with the refusal when the shared counter has nothing left. */
  private async take(key: string, previous: Lease | undefined): Promise<Verdict | undefined> {
    const known = previous && previous.until > performance.now() ? previous.storeRemaining : this.limiter.points;
    const want = this.leasing ? Math.max(1, Math.floor(known / LEASE_SHARE)) : 1;
    let res: RateLimiterRes;
    try {
      res = await this.limiter.consume(key, want);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      res = err;
    }
    const now = performance.now();
    if (!fromFallback.has(res)) this.health.answered();
    // What was left before this consume is ours, up to what was asked for; the counter is past the limit otherwise.
    const granted = Math.max(0, Math.min(want, this.limiter.points - (res.consumedPoints - want)));
    if (granted === 0) {
      this.leases.delete(key);
      if (res.msBeforeNext > 0) this.remember(this.blockedUntil, key, now + res.msBeforeNext);
      return this.verdict(0, res.msBeforeNext, true);
    }
    const until = now + (res.msBeforeNext >= 0 ? res.msBeforeNext : this.limiter.duration * 1000);
    this.remember(this.leases, key, { points: granted, storeRemaining: res.remainingPoints, until });
    return undefined;
  }

  /** Sets an entry in a per-key map, keeping the map within MAX_TRACKED entries. */
  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= MAX_TRACKED && !map.has(key)) {
      // Forget the oldest half: blocks are only a shortcut (the store still refuses), leases only unused points.
      let drop = map.size / 2;
      for (const k of map.keys()) {
        if (drop-- <= 0) break;
        map.delete(k);
      }
    }
    map.set(key, value);
  }

  private verdict(remaining: number, resetMs: number, refused: boolean): Verdict {
    return {
      name: this.name,
      policy: this.policy,
      limit: this.limiter.points,
      windowSeconds: this.limiter.duration,
      remaining: Math.max(0, Math.floor(remaining)),
      resetMs: Math.max(0, resetMs),
      refused,
    };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Stores

type MakeLimiter = (opts: { name: string; points: number; duration: number; insuranceLimiter: RateLimiterMemory }) => RateLimiterAbstract;

interface Store {
  health: StoreHealth;
  make: MakeLimiter;
  close(): Promise<void>;
}

async function openRedisStore(url: string, namespace: string, health: StoreHealth): Promise<Store> {
  // Its own connection, unlike BullMQ's: commands fail at once instead of queueing while Redis is away (no offline
  // queue, no retries), so a dead or hung Redis costs a request at most the command timeout before it falls back.
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2_000),
  });
  redis.on('error', (err: Error) => {
    health.lastError = err;
  });
  redis.on('ready', () => health.answered());
  // Down at start-up: the hub starts anyway, counting locally, and the client keeps reconnecting in the background.
  await redis.connect().catch((err: unknown) => {
    health.lastError = err;
  });
  return {
    health,
    make: ({ name, points, duration, insuranceLimiter }) =>
      new RateLimiterRedis({
        storeClient: redis,
        // Hubs sharing one Redis but not one database (tests, staging next to production) keep apart, as the queue does.
        keyPrefix: `gcorp:${namespace}:rl:${name}`,
        points,
        duration,
        insuranceLimiter,
        rejectIfRedisNotReady: true,
      }),
    async close() {
      redis.disconnect();
    },
  };
}

/** A counter row; pg hands bigint columns over as strings. */
interface CounterRow {
  points: string;
  expire: string | null;
  now_ms: string;
}

/** The database's clock in Unix milliseconds; now() is fixed for the statement. */
const DB_NOW_MS = '(extract(epoch FROM now()) * 1000)::bigint';

const UPSERT_SQL = `
  INSERT INTO ${TABLE} AS r (key, points, expire)
  VALUES ($1, $2::bigint, CASE WHEN $3::bigint IS NULL THEN NULL ELSE ${DB_NOW_MS} + $3::bigint END)
  ON CONFLICT (key) DO UPDATE SET
    points = CASE WHEN $4::boolean OR r.expire <= ${DB_NOW_MS} THEN excluded.points ELSE r.points + excluded.points END,
    expire = CASE WHEN $4::boolean OR r.expire <= ${DB_NOW_MS} THEN excluded.expire ELSE r.expire END
  RETURNING points, expire, ${DB_NOW_MS} AS now_ms`;

const GET_SQL = `
  SELECT points, expire, ${DB_NOW_MS} AS now_ms FROM ${TABLE}
   WHERE key = $1 AND (expire IS NULL OR expire > ${DB_NOW_MS})`;

type SqlClient = { query: (q: { text: string; values?: unknown[] }) => Promise<{ rows: CounterRow[]; rowCount: number | null }> };

/**
 * RateLimiterPostgres with the window kept on the database's clock: the stock limiter computes `expire` from
 * Date.now() of each process, so two processes with different clocks would disagree about when a window ends. The
 * three methods below are the store-specific hooks of rate-limiter-flexible 11 (RateLimiterStoreAbstract); the
 * SQL is the stock upsert with `$now` replaced by PostgreSQL's now().
 */
class DbClockPostgres extends RateLimiterPostgres {
  private readonly sql: SqlClient;

  constructor(opts: ConstructorParameters<typeof RateLimiterPostgres>[0] & { storeClient: SqlClient }) {
    super(opts);
    this.sql = opts.storeClient;
  }

  _upsert(rlKey: string, points: number, msDuration: number, forceExpire = false) {
    return this.sql.query({ text: UPSERT_SQL, values: [rlKey, points, msDuration > 0 ? msDuration : null, forceExpire] });
  }

  async _get(rlKey: string) {
    const res = await this.sql.query({ text: GET_SQL, values: [rlKey] });
    return res.rowCount ? res : null;
  }

  _getRateLimiterRes(_rlKey: string, changedPoints: number, result: { rows: CounterRow[] }): RateLimiterRes {
    const row = result.rows[0]!;
    const consumed = Number(row.points);
    const msBeforeNext = row.expire === null ? -1 : Math.max(Number(row.expire) - Number(row.now_ms), 0);
    return new RateLimiterRes(Math.max(this.points - consumed, 0), msBeforeNext, consumed, consumed === changedPoints);
  }
}

function openPostgresStore(db: Database, health: StoreHealth, log: FastifyBaseLogger): Store {
  // The hub's own pool (gcorp_app): the table is global, so plain statements outside any tenant transaction.
  const sql: SqlClient = {
    query: ({ text, values }) =>
      db.query<CounterRow>(text, values).catch((err: unknown) => {
        health.lastError = err;
        throw err;
      }),
  };
  const cleanup = setInterval(() => {
    db.query(`DELETE FROM ${TABLE} WHERE expire < ${DB_NOW_MS}`).catch((err: unknown) => log.debug({ err }, 'rate limit cleanup failed'));
  }, CLEANUP_INTERVAL_MS);
  cleanup.unref();
  return {
    health,
    make: ({ name, points, duration, insuranceLimiter }) =>
      new DbClockPostgres({
        storeClient: sql,
        storeType: 'pool',
        tableName: TABLE,
        tableCreated: true, // migrations/0003_rate_limits.sql
        clearExpiredByTimeout: false, // the interval above does it, on the database's clock
        keyPrefix: name,
        points,
        duration,
        insuranceLimiter,
      }),
    async close() {
      clearInterval(cleanup);
    },
  };
}

/** The two limits of an authenticated request, both of the tenant's requests_per_minute. */
interface PrincipalLimits {
  credential: SharedLimit;
  tenant: SharedLimit;
}

/** Shared limits by name and size, created on first use (tenants of different plans need different sizes). */
class Limits {
  private readonly byShape = new Map<string, SharedLimit>();
  private readonly byRpm = new Map<number, PrincipalLimits>();

  constructor(private readonly store: Store) {}

  /** The credential's and the tenant's limit for a requests_per_minute (a number per plan or override: few). */
  forPrincipal(rpm: number): PrincipalLimits {
    let pair = this.byRpm.get(rpm);
    if (pair === undefined) {
      pair = { credential: this.get('credential', 'default', rpm, WINDOW_SECONDS), tenant: this.get('tenant', 'default', rpm, WINDOW_SECONDS) };
      this.byRpm.set(rpm, pair);
    }
    return pair;
  }

  get(name: LimitName, policy: string, points: number, duration: number, leasing = true): SharedLimit {
    const shape = `${name}/${points}/${duration}`;
    let limit = this.byShape.get(shape);
    if (!limit) {
      const insuranceLimiter = new LocalFallback({ points, duration, keyPrefix: `local:${name}` }, this.store.health);
      limit = new SharedLimit(name, policy, this.store.make({ name, points, duration, insuranceLimiter }), this.store.health, leasing);
      this.byShape.set(shape, limit);
    }
    return limit;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tenants' requests per minute

/**
 * Reads each tenant's requests_per_minute (its override, else its plan's) at most every few seconds per process.
 * An entry also lapses as soon as the caller's tenant snapshot changes (its updated_at): the principal caches drop a
 * tenant's snapshot when the instance admin changes it (at once in this process, by NOTIFY in the others), so a
 * new limit applies from the next request on.
 */
class TenantRates {
  private readonly cache = new Map<string, { rpm: number | null; version: string; at: number }>();
  private readonly loading = new Map<string, Promise<number | null>>();

  constructor(
    private readonly db: Database,
    private readonly plans: Config['plans'],
    private readonly log: FastifyBaseLogger,
  ) {}

  /** The tenant's requests_per_minute (null: unlimited) if it is known at `now`; undefined when rpm() must read it. */
  peek(p: Principal, now: number): number | null | undefined {
    const hit = this.cache.get(p.tenantId);
    return hit !== undefined && hit.version === p.tenant.updated_at && now - hit.at < TENANT_LIMIT_TTL_MS ? hit.rpm : undefined;
  }

  rpm(p: Principal): Promise<number | null> | number | null {
    const known = this.peek(p, performance.now());
    if (known !== undefined) return known;
    const loadKey = `${p.tenantId}@${p.tenant.updated_at}`;
    let pending = this.loading.get(loadKey);
    if (!pending) {
      pending = this.load(p).finally(() => this.loading.delete(loadKey));
      this.loading.set(loadKey, pending);
    }
    return pending;
  }

  private async load(p: Principal): Promise<number | null> {
    let plan = p.tenant.plan;
    let override: unknown;
    try {
      const row = await this.db.tenant(p.tenantId, async (q) => {
        const res = await q.query<{ plan: string; limits: Record<string, unknown> | null }>(
          'select plan, limits from tenants where id = $1',
          [p.tenantId],
        );
        return res.rows[0];
      });
      if (row) {
        plan = row.plan;
        override = row.limits?.requests_per_minute;
      }
    } catch (err) {
      this.log.warn({ err }, 'could not read the tenant limits; using the plan default');
    }
    const planLimits = (this.plans as Record<string, PlanLimits | undefined>)[plan];
    const rpm = typeof override === 'number' && Number.isInteger(override) && override >= 1 ? override : (planLimits?.requests_per_minute ?? null);
    if (this.cache.size >= MAX_TRACKED) this.cache.clear();
    this.cache.set(p.tenantId, { rpm, version: p.tenant.updated_at, at: performance.now() });
    return rpm;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

// Header names in lower case, as Fastify keeps them (reply.header lower-cases every name it is given).
const POLICY_HEADER = 'ratelimit-policy';
const RATE_HEADER = 'ratelimit';

function setHeaders(reply: FastifyReply, v: Verdict): void {
  reply.header(POLICY_HEADER, `"${v.policy}";q=${v.limit};w=${v.windowSeconds}`);
  reply.header(RATE_HEADER, `"${v.policy}";r=${v.remaining};t=${Math.ceil(v.resetMs / 1000)}`);
}

/** The verdict to show: the fewest requests left, then the latest reset. */
function mostRestrictive(verdicts: Verdict[]): Verdict {
  return verdicts.reduce((a, b) => (b.remaining < a.remaining || (b.remaining === a.remaining && b.resetMs > a.resetMs) ? b : a));
}

/** What a limit counts, for the problem's detail. */
const DESCRIBE: Record<LimitName, (n: number, w: number) => string> = {
  credential: (n, w) => `${n} requests per ${w} seconds for this credential`,
  tenant: (n, w) => `${n} requests per ${w} seconds for this tenant`,
  address: (n, w) => `${n} sign-in requests per ${w} seconds from this address`,
  account: (n, w) => `${n} failed sign-ins per ${w} seconds to this account from this address`,
};

function tooManyRequests(refused: Verdict[]): ProblemError {
  const worst = refused.reduce((a, b) => (b.resetMs > a.resetMs ? b : a));
  const retryAfter = Math.max(1, Math.ceil(worst.resetMs / 1000));
  return new ProblemError(
    429,
    'rate_limited',
    `The limit of ${DESCRIBE[worst.name](worst.limit, worst.windowSeconds)} is reached; retry in ${retryAfter} seconds.`,
    { headers: { 'Retry-After': String(retryAfter) } },
  );
}

/** Public operations that check a password or poll for tokens: limited per client address, and per account when they carry an email. */
const SIGN_IN_OPERATIONS = new Set(['login', 'exchangeToken', 'submitDevicePage', 'submitConsoleLogin']);

const accountKey = (email: string, address: string) =>
  // Hashed: the store keeps no email address.
  `${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 32)}@${address}`;

/**
 * Installs the rate-limit hooks; call it after the authentication hook (which sets req.principal) so that they run
 * right after it, before body validation and every handler. Does nothing when limits are switched off.
 */
export async function installRateLimits(app: FastifyInstance): Promise<void> {
  const { config, db, metrics } = app.hub;
  if (!config.limitsEnabled) return;

  const storeErrors = new client.Counter({
    name: 'gcorp_rate_limit_store_errors_total',
    help: 'Rate-limit store operations that failed and were answered from the local in-process counters instead, by store.',
    labelNames: ['store'],
    registers: [metrics.registry],
  });
  const refusals = new client.Counter({
    name: 'gcorp_rate_limited_total',
    help: 'Requests refused with 429 rate_limited, by the limit that refused them (credential, tenant, address, account).',
    labelNames: ['limit'],
    registers: [metrics.registry],
  });

  const kind: StoreKind = config.redisUrl ? 'redis' : 'postgres';
  const health = new StoreHealth(kind, app.log, storeErrors);
  let store: Store;
  if (config.redisUrl) {
    const { rows } = await db.query<{ name: string }>('select current_database() as name');
    store = await openRedisStore(config.redisUrl, rows[0]?.name ?? 'default', health);
  } else {
    store = openPostgresStore(db, health, app.log);
  }
  const limits = new Limits(store);
  const rates = new TenantRates(db, config.plans, app.log);
  app.addHook('onClose', async () => store.close());

  const addressLimit = limits.get('address', 'sign-in', SIGN_IN_LIMITS.address.points, SIGN_IN_LIMITS.address.duration);
  // Not leased: its counts are given back after successful sign-ins, which must reach the shared counter.
  const accountLimit = limits.get('account', 'sign-in-failures', SIGN_IN_LIMITS.account.points, SIGN_IN_LIMITS.account.duration, false);
  app.decorateRequest('rateLimitCounted', false);
  app.decorateRequest('rateLimitSignIn', null);

  const refuse = (refused: Verdict[]): ProblemError => {
    for (const v of refused) refusals.inc({ limit: v.name });
    return tooManyRequests(refused);
  };

  /**
   * The hot path of an authenticated request, synchronous and allocation-light: when the tenant's requests_per_minute
   * is cached and this process holds a lease with a point left for both the credential and the tenant (the common
   * case: a lease covers many requests), takes one point from each and sets the headers. Returns false, having
   * changed nothing, when the store or a refusal is involved; limitPrincipal then does the whole count.
   */
  function countFromLeases(p: Principal, reply: FastifyReply): boolean {
    const now = performance.now();
    const rpm = rates.peek(p, now);
    if (rpm === undefined) return false;
    if (rpm === null) return true; // unlimited plan: nothing to count or report
    const { credential, tenant } = limits.forPrincipal(rpm);
    const own = credential.usableLease(p.apiKeyId ?? p.sessionId ?? p.userId ?? p.tenantId, now);
    if (own === undefined) return false;
    const shared = tenant.usableLease(p.tenantId, now);
    if (shared === undefined) return false;
    own.points--;
    shared.points--;
    // As mostRestrictive(): the fewest requests left, then the latest reset.
    const ownLeft = own.storeRemaining + own.points;
    const sharedLeft = shared.storeRemaining + shared.points;
    const showShared = sharedLeft < ownLeft || (sharedLeft === ownLeft && shared.until > own.until);
    const limit = showShared ? tenant : credential;
    reply.header(POLICY_HEADER, limit.policyHeader);
    reply.header(RATE_HEADER, `${limit.ratePrefix}${showShared ? sharedLeft : ownLeft};t=${Math.ceil(((showShared ? shared.until : own.until) - now) / 1000)}`);
    return true;
  }

  /** Counts an authenticated request; throws the 429 when `enforce` and a limit is passed. Never fails otherwise. */
  async function limitPrincipal(req: FastifyRequest, reply: FastifyReply, enforce: boolean): Promise<void> {
    const p = req.principal!;
    let verdicts: Verdict[];
    try {
      const rpm = await rates.rpm(p);
      if (rpm === null) return; // unlimited plan: nothing to count or report
      const { credential, tenant } = limits.forPrincipal(rpm);
      const credentialKey = p.apiKeyId ?? p.sessionId ?? p.userId ?? p.tenantId;
      // A caller already refused in this process is refused again without a store round trip. Otherwise the
      // credential counts first, and the tenant only for requests its credential let through: a burst on one key
      // then gets exactly its limit even across processes (two counters bumped at once could each refuse a
      // different request), and a key past its own limit does not use up its tenant's minute.
      const blocked = credential.blocked(credentialKey) ?? tenant.blocked(p.tenantId);
      if (blocked) verdicts = [blocked];
      else {
        const own = await credential.consume(credentialKey);
        verdicts = own.refused ? [own] : [own, await tenant.consume(p.tenantId)];
      }
    } catch (err) {
      req.log.warn({ err }, 'rate limit check failed; request let through');
      return;
    }
    setHeaders(reply, mostRestrictive(verdicts));
    const refused = verdicts.filter((v) => v.refused);
    if (enforce && refused.length > 0) throw refuse(refused);
  }

  /** Counts a sign-in attempt; returns the verdict that refuses it, if one does. Never fails otherwise. */
  async function limitSignIn(req: FastifyRequest, operationId: string): Promise<Verdict | undefined> {
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
    // The refresh grant is not a sign-in (its token is a 256-bit secret); RFC 8628's slow_down paces each device code.
    if (operationId === 'exchangeToken' && body.grant_type !== DEVICE_GRANT) return undefined;
    const address = req.ip;
    try {
      const perAddress = await addressLimit.consume(address);
      if (perAddress.refused) return perAddress;
      if (operationId === 'exchangeToken' || typeof body.email !== 'string' || body.email.trim() === '') return undefined;
      // Counted before the attempt (so parallel guesses cannot slip past the limit) and given back after it unless
      // the credentials were wrong (onSend below): in effect only failures count, and a success clears the count.
      const key = accountKey(body.email, address);
      const perAccount = await accountLimit.consume(key);
      if (perAccount.refused) return perAccount;
      req.rateLimitSignIn = key;
    } catch (err) {
      req.log.warn({ err }, 'sign-in rate limit check failed; request let through');
    }
    return undefined;
  }

  async function limitPublic(req: FastifyRequest, reply: FastifyReply, operationId: string): Promise<void> {
    const refusedBy = await limitSignIn(req, operationId);
    if (refusedBy) {
      setHeaders(reply, refusedBy);
      throw refuse([refusedBy]);
    }
  }

  // Both hooks take a callback rather than returning a promise: on the hot path (a lease covers the request, or
  // nothing is to be done) they finish synchronously, with no promise, microtask or closure per request.
  app.addHook('preValidation', (req, reply, done) => {
    if (req.principal) {
      req.rateLimitCounted = true;
      if (countFromLeases(req.principal, reply)) return done();
      limitPrincipal(req, reply, true).then(() => done(), done);
      return;
    }
    const op = req.routeOptions.config.operation;
    if (!op?.isPublic || !SIGN_IN_OPERATIONS.has(op.operationId)) return done();
    limitPublic(req, reply, op.operationId).then(() => done(), done);
  });

  /** What onSend does when there is something to do; never fails. */
  async function settle(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    // The authentication hook refused after identifying the caller (403 insufficient_scope, tenant_suspended): the
    // request still counts, and its answer carries the headers.
    if (req.principal && !req.rateLimitCounted) {
      req.rateLimitCounted = true;
      if (!countFromLeases(req.principal, reply)) await limitPrincipal(req, reply, false);
    }
    const key = req.rateLimitSignIn;
    if (typeof key === 'string') {
      req.rateLimitSignIn = null;
      const status = reply.statusCode;
      try {
        // Wrong email or password (401): the attempt stays counted. A success (200, or the console's 303) clears the
        // count; anything else (a suspended tenant, a bad device code or anti-CSRF token) gives the attempt back.
        if (status < 400) await accountLimit.delete(key);
        else if (status !== 401) await accountLimit.reward(key);
      } catch (err) {
        req.log.warn({ err }, 'could not settle the sign-in attempt count');
      }
    }
  }

  app.addHook('onSend', (req, reply, payload, done) => {
    if ((req.principal === undefined || req.rateLimitCounted) && typeof req.rateLimitSignIn !== 'string') return done(null, payload);
    settle(req, reply).then(
      () => done(null, payload),
      (err: Error) => done(err),
    );
  });
}
