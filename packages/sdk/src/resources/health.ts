// Liveness, readiness, Prometheus metrics and the API description: public operations meant for probes.
import type { APIPromise } from '../core/api-promise.js';
import { APIResource } from '../core/resource.js';
import type { Tolerant } from '../core/types.js';
import type { RequestOptions } from '../client.js';
import type { Schemas } from './shared.js';

export type HealthStatus = Tolerant<Schemas['Health']>;
export type Readiness = Tolerant<Schemas['Readiness']>;

export class HealthResource extends APIResource {
  /** `GET /healthz`: the process is up. */
  check(options?: RequestOptions): APIPromise<HealthStatus> {
    return this._client._call({ ...options, method: 'GET', path: '/healthz', auth: 'none', operation: 'health.check' });
  }

  /** `GET /readyz`: database and queue reachable. A 503 answers its body (`status: 'unavailable'`), not an error. */
  ready(options?: RequestOptions): APIPromise<Readiness> {
    return this._client._call({
      ...options,
      method: 'GET',
      path: '/readyz',
      auth: 'none',
      operation: 'health.ready',
      acceptStatuses: [503],
    });
  }

  /** `GET /metrics`: Prometheus text exposition. */
  metrics(options?: RequestOptions): APIPromise<string> {
    return this._client._call({
      ...options,
      headers: { accept: 'text/plain', ...options?.headers },
      method: 'GET',
      path: '/metrics',
      auth: 'none',
      operation: 'health.metrics',
      responseType: 'text',
    });
  }

  /** `GET /openapi.yaml`: the OpenAPI document the server validates requests against. */
  openapi(options?: RequestOptions): APIPromise<string> {
    return this._client._call({
      ...options,
      headers: { accept: 'application/yaml', ...options?.headers },
      method: 'GET',
      path: '/openapi.yaml',
      auth: 'none',
      operation: 'health.openapi',
      responseType: 'text',
    });
  }
}
