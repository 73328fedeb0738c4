// Instance administration: tenants, their plans, limits and suspension (instance admin only).
import type { APIPromise } from '../core/api-promise.js';
import type { PagePromise } from '../core/pagination.js';
import { path } from '../core/path.js';
import { APIResource } from '../core/resource.js';
import type { Tolerant } from '../core/types.js';
import type { GenericCorp, RequestOptions } from '../client.js';
import type { ListParams, Schemas, TenantProvisioned } from './shared.js';

/** A tenant as the instance admin sees it: with limit overrides and suspension. */
export type AdminTenant = Tolerant<Schemas['AdminTenant']>;
export type AdminTenantCreateParams = Schemas['AdminCreateTenantRequest'];
export type AdminTenantUpdateParams = Schemas['AdminTenantUpdate'];
export type AdminTenantListParams = ListParams;

export class AdminTenantsResource extends APIResource {
  /** `POST /v1/admin/tenants`: a tenant, its owner and the owner's API key (secret shown once). */
  create(body: AdminTenantCreateParams, options?: RequestOptions): APIPromise<TenantProvisioned> {
    return this._client._call({ ...options, method: 'POST', path: '/v1/admin/tenants', body, operation: 'admin.tenants.create' });
  }

  /** `GET /v1/admin/tenants`: every tenant of the instance, oldest first. */
  list(params?: AdminTenantListParams, options?: RequestOptions): PagePromise<AdminTenant> {
    return this._client._list('/v1/admin/tenants', params, options, 'admin.tenants.list');
  }

  /** `PATCH /v1/admin/tenants/{id}`: plan, limit overrides (`null` removes one), `suspended`. */
  update(id: string, body: AdminTenantUpdateParams, options?: RequestOptions): APIPromise<AdminTenant> {
    return this._client._call({
      ...options,
      method: 'PATCH',
      path: path`/v1/admin/tenants/${id}`,
      body,
      operation: 'admin.tenants.update',
    });
  }
}

export class AdminResource extends APIResource {
  readonly tenants: AdminTenantsResource;

  constructor(client: GenericCorp) {
    super(client);
    this.tenants = new AdminTenantsResource(client);
  }
}
