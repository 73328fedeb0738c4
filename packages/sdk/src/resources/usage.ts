// Metered usage in time buckets, and the current period against the plan's quotas.
import type { APIPromise } from '../core/api-promise.js';
import { APIResource } from '../core/resource.js';
import type { Tolerant } from '../core/types.js';
import type { RequestOptions } from '../client.js';
import type { Operations, Schemas } from './shared.js';

export type Usage = Tolerant<Schemas['Usage']>;
export type UsageBucket = Tolerant<Schemas['UsageBucket']>;
export type UsageSummary = Tolerant<Schemas['UsageSummary']>;
export type Quota = Tolerant<Schemas['Quota']>;
/** `from` (inclusive) and `to` (exclusive) as RFC 3339 strings or Dates, `granularity`, `group_by`. */
export type UsageParams = Omit<NonNullable<Operations['getUsage']['parameters']['query']>, 'from' | 'to'> & {
  from?: string | Date;
  to?: string | Date;
};

export class UsageResource extends APIResource {
  /** `GET /v1/usage` (scope `usage:read`): runs, tokens and run seconds per hour or day bucket. */
  get(params: UsageParams = {}, options?: RequestOptions): APIPromise<Usage> {
    const query = {
      ...params,
      from: params.from instanceof Date ? params.from.toISOString() : params.from,
      to: params.to instanceof Date ? params.to.toISOString() : params.to,
    };
    return this._client._call({ ...options, method: 'GET', path: '/v1/usage', query, operation: 'usage.get' });
  }

  /** `GET /v1/usage/summary`: this billing period against each quota of the plan. */
  summary(options?: RequestOptions): APIPromise<UsageSummary> {
    return this._client._call({ ...options, method: 'GET', path: '/v1/usage/summary', operation: 'usage.summary' });
  }
}
