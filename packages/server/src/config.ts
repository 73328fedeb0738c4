// Reads and validates the hub's configuration once, at start-up: the one module that looks at process.env.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { providerSettingsFromEnv } from './runtimes/providers.js';
import type { ProviderSettings } from './runtimes/types.js';

const port = z.coerce.number().int().min(0).max(65535);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

/** A plan's hard limits; null means unlimited. Periods are calendar months in UTC. */
const planLimits = z.object({
  runs_per_period: z.number().int().min(0).nullable(),
  concurrent_runs: z.number().int().min(0).nullable(),
  tokens_per_period: z.number().int().min(0).nullable(),
  requests_per_minute: z.number().int().min(1).nullable(),
  /** When the concurrency limit is reached: refuse the run with 402 (false) or let it wait in the queue (true). */
  queue_when_busy: z.boolean(),
});
export type PlanLimits = z.infer<typeof planLimits>;
export type PlanName = 'free' | 'pro' | 'business';

export const DEFAULT_PLANS: Record<PlanName, PlanLimits> = {
  free: { runs_per_period: 1_000, concurrent_runs: 2, tokens_per_period: 1_000_000, requests_per_minute: 120, queue_when_busy: false },
  pro: { runs_per_period: 20_000, concurrent_runs: 10, tokens_per_period: 20_000_000, requests_per_minute: 600, queue_when_busy: true },
  business: { runs_per_period: 200_000, concurrent_runs: 50, tokens_per_period: 200_000_000, requests_per_minute: 3_000, queue_when_busy: true },
};

const schema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(4100),
  dataDir: z.string().min(1),
  databaseUrl: optionalString.pipe(z.string().url().optional()),
  databaseAppUrl: optionalString.pipe(z.string().url().optional()),
  databaseAppPassword: optionalString,
  redisUrl: optionalString.pipe(z.string().url().optional()),
  publicUrl: optionalString.pipe(z.string().url().optional()),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  secretKey: optionalString.pipe(z.string().min(32, 'GCORP_SECRET_KEY must be at least 32 characters').optional()),
  bootstrapToken: optionalString.pipe(z.string().min(16, 'GCORP_BOOTSTRAP_TOKEN must be at least 16 characters').optional()),
  accessTokenTtlSeconds: z.coerce.number().int().min(60).max(86_400).default(900),
  refreshTokenTtlSeconds: z.coerce.number().int().min(300).default(30 * 86_400),
  /**
   * A refresh token presented again within this many seconds of its first use is exchanged again (concurrent
   * refreshes of one token by several processes or CLI commands, a retry after a lost response) instead of revoking
   * the session as stolen; 0 makes every second use revoke it.
   */
  refreshReuseGraceSeconds: z.coerce.number().int().min(0).max(300).default(10),
  deviceCodeTtlSeconds: z.coerce.number().int().min(60).max(3600).default(900),
  deviceCodeIntervalSeconds: z.coerce.number().int().min(1).max(60).default(5),
  keyCacheTtlMs: z.coerce.number().int().min(0).max(300_000).default(30_000),
  migrate: z.boolean().default(true),
  /** Runs executed at once by this process's worker; 0 makes it an API-only process. */
  workerConcurrency: z.coerce.number().int().min(0).max(1000).default(8),
  runMaxAttempts: z.coerce.number().int().min(1).max(10).default(3),
  runLeaseMs: z.coerce.number().int().min(200).max(600_000).default(15_000),
  sweepIntervalMs: z.coerce.number().int().min(50).max(600_000).default(2_000),
  sseHeartbeatMs: z.coerce.number().int().min(100).max(600_000).default(15_000),
  allowPrivateWebhooks: z.coerce.boolean().default(false),
  webhookTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(30_000),
  webhookMaxAttempts: z.coerce.number().int().min(1).max(10).default(3),
  webhookMaxResponseBytes: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  providers: z.custom<ProviderSettings>().default({}),
  /** Plan defaults; GCORP_PLANS (JSON, partial) changes them for a self-hosted instance. */
  plans: z.object({ free: planLimits, pro: planLimits, business: planLimits }).default(DEFAULT_PLANS),
  /** Rate limits and quotas can be switched off (benchmarks compare both; a private instance may not want them). */
  limitsEnabled: z.boolean().default(true),
  /** Behind a reverse proxy (Caddy, an ingress): trust X-Forwarded-For from it, so limits see client addresses. */
  trustProxy: z.union([z.boolean(), z.string()]).default(false),
  bodyLimitBytes: z.number().int().default(1024 * 1024),
});

export type Config = z.infer<typeof schema>;
export type ConfigOverrides = Partial<z.input<typeof schema>>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Builds the configuration from the environment, with explicit overrides (flags, tests) winning. */
export function loadConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const fromEnv: Record<string, unknown> = {
    host: env.GCORP_HOST,
    port: env.GCORP_PORT ?? env.PORT,
    dataDir: env.GCORP_DATA_DIR,
    databaseUrl: env.DATABASE_URL,
    databaseAppUrl: env.DATABASE_APP_URL,
    databaseAppPassword: env.GCORP_DB_APP_PASSWORD,
    redisUrl: env.REDIS_URL,
    publicUrl: env.GCORP_PUBLIC_URL,
    logLevel: env.GCORP_LOG_LEVEL ?? env.LOG_LEVEL,
    secretKey: env.GCORP_SECRET_KEY,
    bootstrapToken: env.GCORP_BOOTSTRAP_TOKEN,
    accessTokenTtlSeconds: env.GCORP_ACCESS_TOKEN_TTL,
    refreshTokenTtlSeconds: env.GCORP_REFRESH_TOKEN_TTL,
    refreshReuseGraceSeconds: env.GCORP_REFRESH_REUSE_GRACE,
    workerConcurrency: env.GCORP_WORKER_CONCURRENCY,
    runMaxAttempts: env.GCORP_RUN_MAX_ATTEMPTS,
    allowPrivateWebhooks: env.GCORP_ALLOW_PRIVATE_WEBHOOKS === undefined ? undefined : ['1', 'true', 'yes'].includes(env.GCORP_ALLOW_PRIVATE_WEBHOOKS.toLowerCase()),
    webhookTimeoutMs: env.GCORP_WEBHOOK_TIMEOUT_MS,
    webhookMaxAttempts: env.GCORP_WEBHOOK_MAX_ATTEMPTS,
    runLeaseMs: env.GCORP_RUN_LEASE_MS,
    sweepIntervalMs: env.GCORP_SWEEP_INTERVAL_MS,
    sseHeartbeatMs: env.GCORP_SSE_HEARTBEAT_MS,
  };
  if (env.GCORP_TRUST_PROXY) {
    const v = env.GCORP_TRUST_PROXY.trim();
    fromEnv.trustProxy = ['1', 'true', 'yes'].includes(v.toLowerCase()) ? true : ['0', 'false', 'no'].includes(v.toLowerCase()) ? false : v;
  }
  if (env.GCORP_LIMITS !== undefined) fromEnv.limitsEnabled = !['0', 'false', 'off'].includes(env.GCORP_LIMITS.toLowerCase());
  if (env.GCORP_PLANS) {
    try {
      const given = JSON.parse(env.GCORP_PLANS) as Record<string, Partial<PlanLimits>>;
      fromEnv.plans = Object.fromEntries(
        (Object.keys(DEFAULT_PLANS) as PlanName[]).map((p) => [p, { ...DEFAULT_PLANS[p], ...(given[p] ?? {}) }]),
      );
    } catch (err) {
      throw new ConfigError(`invalid configuration: GCORP_PLANS is not valid JSON: ${(err as Error).message}`);
    }
  }
  try {
    fromEnv.providers = providerSettingsFromEnv(env);
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }
  const merged: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ ...fromEnv, ...overrides })) if (v !== undefined && v !== '') merged[k] = v;
  merged.dataDir = resolve(String(merged.dataDir ?? defaultDataDir(env)));
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${issues.join('; ')}`);
  }
  return parsed.data;
}

function defaultDataDir(env: NodeJS.ProcessEnv): string {
  // As root, the embedded PostgreSQL runs as the `postgres` user, which cannot enter /root: use the system location.
  if (process.getuid?.() === 0 && !env.XDG_DATA_HOME) return '/var/lib/gcorp';
  const base = env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share');
  return join(base, 'gcorp');
}
