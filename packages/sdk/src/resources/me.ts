// Who the presented credential is.
import type { APIPromise } from '../core/api-promise.js';
import { APIResource } from '../core/resource.js';
import type { Tolerant } from '../core/types.js';
import type { RequestOptions } from '../client.js';
import type { Schemas } from './shared.js';

/** A user's access token (`kind: 'user'`, with `user` and `role`) or an API key (`kind: 'api_key'`, with `api_key`). */
export type Me = Tolerant<Schemas['Me']>;

export class MeResource extends APIResource {
  /** `GET /v1/me`: the caller, its tenant, plan and effective scopes. */
  get(options?: RequestOptions): APIPromise<Me> {
    return this._client._call({ ...options, method: 'GET', path: '/v1/me', operation: 'me.get' });
  }
}
