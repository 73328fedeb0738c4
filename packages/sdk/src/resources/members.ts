// Users of the caller's tenant and their roles.
import type { APIPromise } from '../core/api-promise.js';
import type { PagePromise } from '../core/pagination.js';
import { path } from '../core/path.js';
import { APIResource } from '../core/resource.js';
import type { Tolerant } from '../core/types.js';
import type { RequestOptions } from '../client.js';
import type { ListParams, Schemas } from './shared.js';

export type Member = Tolerant<Schemas['Member']>;
export type MemberCreateParams = Schemas['MemberCreate'];
export type MemberUpdateParams = Schemas['MemberUpdate'];
export type MemberListParams = ListParams;

export class MembersResource extends APIResource {
  /** `GET /v1/members` (scope `tenant:admin`), oldest first; `for await` walks every page. */
  list(params?: MemberListParams, options?: RequestOptions): PagePromise<Member> {
    return this._client._list('/v1/members', params, options, 'members.list');
  }

  /** `POST /v1/members`: a new user, member of the tenant with `role`. */
  create(body: MemberCreateParams, options?: RequestOptions): APIPromise<Member> {
    return this._client._call({ ...options, method: 'POST', path: '/v1/members', body, operation: 'members.create' });
  }

  /** `PATCH /v1/members/{id}`: changes the member's role. */
  update(id: string, body: MemberUpdateParams, options?: RequestOptions): APIPromise<Member> {
    return this._client._call({ ...options, method: 'PATCH', path: path`/v1/members/${id}`, body, operation: 'members.update' });
  }

  /** `DELETE /v1/members/{id}`: removes the user from the tenant and ends their sessions in it. */
  delete(id: string, options?: RequestOptions): APIPromise<void> {
    return this._client._call({ ...options, method: 'DELETE', path: path`/v1/members/${id}`, operation: 'members.delete' });
  }
}
