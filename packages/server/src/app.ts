// Builds the hub's Fastify app: spec-driven routes, problems, request ids, auth, metrics; one plugin per area.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import formbody from '@fastify/formbody';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { installErrorHandling } from './http/errors.js';
import { installIdempotency } from './http/idempotency.js';
import { createMetrics, type HubMetrics } from './http/metrics.js';
import { installRateLimits } from './http/rate-limit.js';
import { ProblemError } from './http/problem.js';
import { SpecRouter } from './http/spec-routes.js';
import { newRequestId } from './ids.js';
import { PrincipalResolver, type Principal } from './services/principal.js';
import type { InstanceKeys } from './services/secrets.js';
import { createServices, type Services } from './services/index.js';
import { opsPlugin } from './plugins/ops.js';
import { authPlugin } from './plugins/auth.js';
import { bootstrapPlugin } from './plugins/bootstrap.js';
import { identityPlugin } from './plugins/identity.js';
import { tenantPlugin } from './plugins/tenant.js';
import { adminPlugin } from './plugins/admin.js';
import { apiKeysPlugin } from './plugins/api-keys.js';
import { devicePagePlugin } from './plugins/device-page.js';
import { consolePlugin } from './plugins/console.js';
import { usagePlugin } from './plugins/usage.js';
import { agentsPlugin } from './plugins/agents.js';
import { runsPlugin } from './plugins/runs.js';
import { RunFeed } from './runs/events.js';
import type { RunQueue } from './runs/queue.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyInstance {
    hub: HubContext;
  }
}

export interface HubContext {
  config: Config;
  db: Database;
  router: SpecRouter;
  metrics: HubMetrics;
  principals: PrincipalResolver;
  services: Services;
  keys: InstanceKeys;
  queue: RunQueue;
  feed: RunFeed;
  publicUrl: () => string;
  /** Every route registered, as Fastify saw it (the spec-routes test compares these with openapi.yaml). */
  routes: { method: string; url: string }[];
}

export interface BuildAppOptions {
  config: Config;
  db: Database;
  keys: InstanceKeys;
  queue: RunQueue;
  logger?: FastifyServerOptions['logger'];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,200}$/;

export const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.admin_password',
  '*.owner_password',
  '*.bootstrap_token',
  '*.refresh_token',
  '*.access_token',
  '*.device_code',
  '*.key',
  '*.api_key',
  '*.secret',
  '*.signing_secret',
  '*.csrf',
  '*.preauth',
];

export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return { level, redact: { paths: REDACT, censor: '[redacted]' } };
}

export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { config, db, keys } = opts;
  const router = new SpecRouter();
  const metrics = createMetrics();
  const app = Fastify({
    logger: opts.logger ?? loggerOptions(config.logLevel),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : newRequestId();
    },
    routerOptions: { ignoreTrailingSlash: true },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  let address = '';
  const publicUrl = () => config.publicUrl ?? address;
  app.addHook('onListen', async () => {
    const a = app.server.address();
    if (a && typeof a === 'object') address = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  });

  const principals = new PrincipalResolver({
    db,
    jwtKey: keys.jwt,
    cacheTtlMs: config.keyCacheTtlMs,
    issuer: 'gcorp',
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    onError: (err) => app.log.warn({ err }, 'background auth write failed'),
  });
  await principals.start();
  // Run signals ride on the queue's Redis when there is one (pub/sub), else on NOTIFY.
  const feed = new RunFeed(db, opts.queue.signals, (err) => app.log.warn({ err }, 'could not publish run signals'));
  await feed.start();
  const { queue } = opts;
  // A scrape must not hang on an unreachable queue backend: the gauge gives up after a second.
  metrics.queueDepthSource.read = () =>
    Promise.race([queue.depth(), new Promise<number>((_, reject) => setTimeout(() => reject(new Error('queue depth timed out')), 1000).unref())]);
  const services = createServices({ config, db, principals, log: app.log, dataKey: keys.data, queue, feed });
  const routes: HubContext['routes'] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  app.decorate('hub', { config, db, router, metrics, principals, services, keys, queue, feed, publicUrl, routes });

  app.setValidatorCompiler(({ schema, httpPart }) => router.compileValidator(schema as Record<string, unknown>, httpPart));
  app.addSchema(router.components as never);
  await app.register(formbody, { bodyLimit: config.bodyLimitBytes });
  installErrorHandling(app, router);

  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Request-Id', req.id);
  });

  // Authentication and scopes come from the operation's security requirement in openapi.yaml.
  app.addHook('preValidation', async (req) => {
    const op = req.routeOptions.config.operation;
    if (!op) return;
    // An optional body that was left out validates as the empty object, as if `{}` had been sent.
    if (req.body === undefined && op.bodyOptional) req.body = {};
    else if (req.body !== undefined && op.requestContentTypes.length > 0) {
      const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (!op.requestContentTypes.includes(type)) {
        throw new ProblemError(415, 'unsupported_media_type', `Send the body as ${op.requestContentTypes.join(' or ')}, not ${type || 'no Content-Type'}.`);
      }
    }
    if (op.isPublic) return;
    const principal = await principals.resolve(req.headers.authorization);
    req.principal = principal;
    req.log = req.log.child({ tenant_id: principal.tenantId });
    const missing = op.scopes.filter((s) => !principal.scopes.has(s));
    if (missing.length > 0) {
      throw new ProblemError(403, 'insufficient_scope', `This operation needs the scope ${missing.join(', ')}, which this credential does not carry.`);
    }
    if (principal.tenant.suspended_at && !principal.isInstanceAdmin) {
      throw new ProblemError(403, 'tenant_suspended', 'This tenant is suspended; contact the instance administrator.');
    }
  });

  installIdempotency(app, db);
  await installRateLimits(app);

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    if (req.problemCode) metrics.httpErrors.inc({ code: req.problemCode });
  });

  await app.register(opsPlugin);
  await app.register(bootstrapPlugin);
  await app.register(authPlugin);
  await app.register(devicePagePlugin);
  await app.register(consolePlugin);
  await app.register(identityPlugin);
  await app.register(tenantPlugin);
  await app.register(adminPlugin);
  await app.register(apiKeysPlugin);
  await app.register(agentsPlugin);
  await app.register(runsPlugin);
  await app.register(usagePlugin);

  const missing = router.missing();
  if (missing.length > 0) throw new Error(`openapi.yaml operations without a handler: ${missing.join(', ')}`);
  app.addHook('onClose', async () => {
    await feed.stop();
    await principals.stop();
  });
  return app;
}
