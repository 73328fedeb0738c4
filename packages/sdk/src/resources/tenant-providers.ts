// The tenant's own model-provider settings: each provider it sets replaces the instance's for its model runs. API keys
// are write-only: responses say whether one is stored (`api_key_set`) and show its last four characters.
import type { APIPromise } from '../core/api-promise.js';
import type { PagePromise } from '../core/pagination.js';
import { path } from '../core/path.js';
import { APIResource } from '../core/resource.js';
import type { Tolerant } from '../core/types.js';
import type { RequestOptions } from '../client.js';
import type { ListParams, Schemas } from './shared.js';

/** `anthropic` or `openai_compatible`. */
export type ProviderName = Schemas['ProviderName'];
export type TenantProvider = Tolerant<Schemas['TenantProvider']>;
/** `api_key` omitted keeps the stored key, null removes it; `base_url` and `default_model` are replaced. */
export type TenantProviderSetParams = Schemas['TenantProviderUpdate'];
export type TenantProviderListParams = ListParams;

export class TenantProvidersResource extends APIResource {
  /** `GET /v1/tenant/providers` (scope `tenant:admin`): the providers the tenant set, by name; never a key. */
  list(params?: TenantProviderListParams, options?: RequestOptions): PagePromise<TenantProvider> {
    return this._client._list('/v1/tenant/providers', params, options, 'tenant.providers.list');
  }

  /**
   * `PUT /v1/tenant/providers/{provider}` (scope `tenant:admin`): creates or replaces the tenant's settings for the
   * provider. `anthropic` needs an API key; `openai_compatible` needs `base_url` and `default_model`.
   */
  set(provider: ProviderName, body: TenantProviderSetParams, options?: RequestOptions): APIPromise<TenantProvider> {
    return this._client._call({ ...options, method: 'PUT', path: path`/v1/tenant/providers/${provider}`, body, operation: 'tenant.providers.set' });
  }

  /** `DELETE /v1/tenant/providers/{provider}` (scope `tenant:admin`): the tenant's runs use the instance's settings again. */
  remove(provider: ProviderName, options?: RequestOptions): APIPromise<void> {
    return this._client._call({ ...options, method: 'DELETE', path: path`/v1/tenant/providers/${provider}`, operation: 'tenant.providers.remove' });
  }
}
