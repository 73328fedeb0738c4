// The caller's tenant: read, rename, its own model-provider settings, GDPR export and erasure.
import type { APIPromise } from '../core/api-promise.js';
import { APIResource } from '../core/resource.js';
import type { Tolerant } from '../core/types.js';
import type { GenericCorp, RequestOptions } from '../client.js';
import type { Schemas, Tenant } from './shared.js';
import { TenantProvidersResource } from './tenant-providers.js';

export type TenantUpdateParams = Schemas['TenantUpdate'];
export type TenantDeleteParams = Schemas['DeleteTenantRequest'];
export type TenantDeletion = Tolerant<Schemas['TenantDeletion']>;
export type TenantExport = Tolerant<Schemas['TenantExport']>;

export class TenantResource extends APIResource {
  /** The tenant's own model-provider settings (`gc.tenant.providers.list/set/remove`). */
  readonly providers: TenantProvidersResource;

  constructor(client: GenericCorp) {
    super(client);
    this.providers = new TenantProvidersResource(client);
  }

  /** `GET /v1/tenant`. */
  get(options?: RequestOptions): APIPromise<Tenant> {
    return this._client._call({ ...options, method: 'GET', path: '/v1/tenant', operation: 'tenant.get' });
  }

  /** `PATCH /v1/tenant` (scope `tenant:admin`): renames the tenant. */
  update(body: TenantUpdateParams, options?: RequestOptions): APIPromise<Tenant> {
    return this._client._call({ ...options, method: 'PATCH', path: '/v1/tenant', body, operation: 'tenant.update' });
  }

  /** `GET /v1/tenant/export` (scope `tenant:admin`): every record the hub holds for the tenant. */
  export(options?: RequestOptions): APIPromise<TenantExport> {
    return this._client._call({ ...options, method: 'GET', path: '/v1/tenant/export', operation: 'tenant.export' });
  }

  /**
   * `DELETE /v1/tenant` (scope `tenant:admin`, owners only for users): erases the tenant irreversibly. `confirm` must
   * repeat the tenant's id. The credential used stops working.
   */
  delete(body: TenantDeleteParams, options?: RequestOptions): APIPromise<TenantDeletion> {
    return this._client._call({ ...options, method: 'DELETE', path: '/v1/tenant', body, operation: 'tenant.delete' });
  }
}
