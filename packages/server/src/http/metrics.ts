// Prometheus metrics of one app instance; labels stay low-cardinality (route templates, never ids).
import client from 'prom-client';

export interface HubMetrics {
  registry: client.Registry;
  httpRequests: client.Counter<'method' | 'route' | 'status'>;
  httpDuration: client.Histogram<'method' | 'route'>;
  httpErrors: client.Counter<'code'>;
  runsFinished: client.Counter<'status'>;
  runsStarted: client.Counter;
  queueDepth: client.Gauge;
  usageRuns: client.Counter;
  usageTokens: client.Counter<'direction'>;
  /** Where the queue-depth gauge reads from at scrape time. */
  queueDepthSource: { read: () => Promise<number> };
}

export function createMetrics(): HubMetrics {
  const registry = new client.Registry();
  const queueDepthSource = { read: async () => 0 };
  client.collectDefaultMetrics({ register: registry, prefix: 'gcorp_' });
  // prom-client names three gauges with a counter's `_total` suffix (promtool check metrics flags them); the same
  // figures remain under the names without it.
  for (const name of ['gcorp_nodejs_active_resources_total', 'gcorp_nodejs_active_handles_total', 'gcorp_nodejs_active_requests_total']) {
    registry.removeSingleMetric(name);
  }
  return {
    registry,
    httpRequests: new client.Counter({
      name: 'gcorp_http_requests_total',
      help: 'HTTP requests handled, by method, route template and status code.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new client.Histogram({
      name: 'gcorp_http_request_duration_seconds',
      help: 'HTTP request latency in seconds, by method and route template.',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers: [registry],
    }),
    httpErrors: new client.Counter({
      name: 'gcorp_http_errors_total',
      help: 'Problem responses sent, by problem code.',
      labelNames: ['code'],
      registers: [registry],
    }),
    runsFinished: new client.Counter({
      name: 'gcorp_runs_finished_total',
      help: 'Run attempts ended by this process, by final status (requeued: handed to another attempt).',
      labelNames: ['status'],
      registers: [registry],
    }),
    runsStarted: new client.Counter({
      name: 'gcorp_runs_started_total',
      help: 'Run attempts this process started executing.',
      registers: [registry],
    }),
    queueDepth: new client.Gauge({
      name: 'gcorp_queue_depth',
      help: 'Run attempts waiting in the queue for a worker.',
      registers: [registry],
      async collect() {
        this.set(await queueDepthSource.read().catch(() => 0));
      },
    }),
    queueDepthSource,
    usageRuns: new client.Counter({
      name: 'gcorp_usage_runs_total',
      help: 'Runs metered (finished) by this process.',
      registers: [registry],
    }),
    usageTokens: new client.Counter({
      name: 'gcorp_usage_tokens_total',
      help: 'Model tokens metered by this process, by direction (input or output).',
      labelNames: ['direction'],
      registers: [registry],
    }),
  };
}
