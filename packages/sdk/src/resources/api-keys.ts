// API keys of the caller's tenant; the secret is returned once, at creation and at rotation.
import type { APIPromise } from '../core/api-promise.js';
import type { PagePromise } from '../core/pagination.js';
import { path } from '../core/path.js';
import { APIResource } from '../core/resource.js';
import type { RequestOptions } from '../client.js';
import type { ApiKey, ApiKeyWithSecret, ListParams, Schemas } from './shared.js';

export type ApiKeyCreateParams = Schemas['CreateApiKeyRequest'];
export type ApiKeyListParams = ListParams;

export class ApiKeysResource extends APIResource {
  /** `POST /v1/api-keys` (scope `keys:manage`): the new key with its secret `key`, shown only here. */
  create(body: ApiKeyCreateParams, options?: RequestOptions): APIPromise<ApiKeyWithSecret> {
    return this._client._call({ ...options, method: 'POST', path: '/v1/api-keys', body, operation: 'apiKeys.create' });
  }

  /** `GET /v1/api-keys`: newest first, revoked and expired keys included, never a secret. */
  list(params?: ApiKeyListParams, options?: RequestOptions): PagePromise<ApiKey> {
    return this._client._list('/v1/api-keys', params, options, 'apiKeys.list');
  }

  /** `GET /v1/api-keys/{id}`. */
  get(id: string, options?: RequestOptions): APIPromise<ApiKey> {
    return this._client._call({ ...options, method: 'GET', path: path`/v1/api-keys/${id}`, operation: 'apiKeys.get' });
  }

  /** `DELETE /v1/api-keys/{id}`: every server refuses the key within a second; it stays listed with `revoked_at`. */
  revoke(id: string, options?: RequestOptions): APIPromise<ApiKey> {
    return this._client._call({ ...options, method: 'DELETE', path: path`/v1/api-keys/${id}`, operation: 'apiKeys.revoke' });
  }

  /** `POST /v1/api-keys/{id}/rotate`: a new secret (shown only here); the old one fails at once. */
  rotate(id: string, options?: RequestOptions): APIPromise<ApiKeyWithSecret> {
    return this._client._call({ ...options, method: 'POST', path: path`/v1/api-keys/${id}/rotate`, operation: 'apiKeys.rotate' });
  }
}
