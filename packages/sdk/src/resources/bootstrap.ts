// One-time set-up of a fresh instance: the instance admin, the first tenant and an all-scopes API key.
import type { APIPromise } from '../core/api-promise.js';
import { APIResource } from '../core/resource.js';
import type { RequestOptions } from '../client.js';
import type { Schemas, TenantProvisioned } from './shared.js';

export type BootstrapParams = Schemas['BootstrapRequest'];

export class BootstrapResource extends APIResource {
  /**
   * `POST /v1/bootstrap` with the instance's one-time bootstrap token. Needs no credential. The key secret
   * (`api_key.key`) is in this response only. A bootstrapped instance answers ConflictError `already_bootstrapped`.
   */
  create(body: BootstrapParams, options?: RequestOptions): APIPromise<TenantProvisioned> {
    return this._client._call({ ...options, method: 'POST', path: '/v1/bootstrap', body, auth: 'none', operation: 'bootstrap.create' });
  }
}
