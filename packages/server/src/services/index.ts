// Wires the domain services of one app instance.
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { RunFeed } from '../runs/events.js';
import type { RunQueue } from '../runs/queue.js';
import { RunService, type RunAdmission } from '../runs/service.js';
import { AgentService } from './agents.js';
import { UsageService } from './usage.js';
import { DeviceService } from './device.js';
import type { PrincipalResolver } from './principal.js';
import { SessionService } from './sessions.js';
import { AdminService, TenantService } from './tenants.js';
import { TenantProviderService } from './providers.js';

export interface Services {
  sessions: SessionService;
  device: DeviceService;
  tenants: TenantService;
  admin: AdminService;
  agents: AgentService;
  runs: RunService;
  usage: UsageService;
  /** The tenants' own model-provider settings. */
  providers: TenantProviderService;
}

export interface ServiceDeps {
  config: Config;
  db: Database;
  principals: PrincipalResolver;
  log: FastifyBaseLogger;
  dataKey: Buffer;
  queue: RunQueue;
  feed: RunFeed;
}

export function createServices(deps: ServiceDeps): Services {
  const { config, db, principals } = deps;
  const agents = new AgentService(db, deps.dataKey, { allowPrivateWebhooks: config.allowPrivateWebhooks });
  const usage = new UsageService(db, config);
  const admission: RunAdmission = {
    admit: (q, principal, shared) => usage.admit(q, principal, shared),
    lockKey: (tenantId) => usage.admissionLockKey(tenantId),
    shareable: (tenantId) => usage.admissionShareable(tenantId),
  };
  const sessions = new SessionService(db, principals, {
    access: config.accessTokenTtlSeconds,
    refresh: config.refreshTokenTtlSeconds,
    reuseGrace: config.refreshReuseGraceSeconds,
  });
  return {
    sessions,
    device: new DeviceService(db, sessions, {
      ttlSeconds: config.deviceCodeTtlSeconds,
      intervalSeconds: config.deviceCodeIntervalSeconds,
    }),
    tenants: new TenantService(db, principals),
    admin: new AdminService(db, principals),
    agents,
    runs: new RunService(db, agents, deps.queue, deps.feed, {
      maxAttempts: config.runMaxAttempts,
      admission,
      onFinished: (q, run) => usage.record(q, run),
      onError: (err) => deps.log.warn({ err }, 'could not hand a run to the queue; the outbox relay will retry'),
    }),
    usage,
    providers: new TenantProviderService(db, deps.dataKey, { allowPrivateTargets: config.allowPrivateWebhooks }),
  };
}
