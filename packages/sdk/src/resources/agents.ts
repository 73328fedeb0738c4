// The tenant's agent catalog: built-in agents, the shipped templates and custom agents.
import type { APIPromise } from '../core/api-promise.js';
import type { PagePromise } from '../core/pagination.js';
import { path } from '../core/path.js';
import { APIResource } from '../core/resource.js';
import type { Tolerant } from '../core/types.js';
import type { RequestOptions } from '../client.js';
import type { ListParams, Schemas } from './shared.js';

/**
 * A JSON Schema (2020-12) document. openapi.yaml declares `input_schema` as a property-less object, which the
 * generator turns into `Record<string, never>`; any schema object is meant.
 */
export type JsonSchema = Record<string, unknown>;

export type Agent = Tolerant<Omit<Schemas['Agent'], 'input_schema'>> & { input_schema: JsonSchema | null };
export type ModelAgentConfig = Tolerant<Schemas['ModelAgentConfig']>;
export type WebhookAgentConfig = Tolerant<Schemas['WebhookAgentConfig']>;
export type AgentCreateParams = Omit<Schemas['AgentCreate'], 'input_schema'> & { input_schema?: JsonSchema | null };
export type AgentUpdateParams = Omit<Schemas['AgentUpdate'], 'input_schema'> & { input_schema?: JsonSchema | null };
export type AgentListParams = ListParams;

export class AgentsResource extends APIResource {
  /** `GET /v1/agents` (scope `agents:read`), ordered by name. */
  list(params?: AgentListParams, options?: RequestOptions): PagePromise<Agent> {
    return this._client._list('/v1/agents', params, options, 'agents.list');
  }

  /** `GET /v1/agents/{id}`, by id or by name (`echo`). */
  get(idOrName: string, options?: RequestOptions): APIPromise<Agent> {
    return this._client._call({ ...options, method: 'GET', path: path`/v1/agents/${idOrName}`, operation: 'agents.get' });
  }

  /** `POST /v1/agents` (scope `agents:write`): a custom `model` or `webhook` agent. */
  create(body: AgentCreateParams, options?: RequestOptions): APIPromise<Agent> {
    return this._client._call({ ...options, method: 'POST', path: '/v1/agents', body, operation: 'agents.create' });
  }

  /** `PATCH /v1/agents/{id}`: changes the given fields of a custom agent. */
  update(idOrName: string, body: AgentUpdateParams, options?: RequestOptions): APIPromise<Agent> {
    return this._client._call({ ...options, method: 'PATCH', path: path`/v1/agents/${idOrName}`, body, operation: 'agents.update' });
  }

  /** `DELETE /v1/agents/{id}`: deletes a custom agent; its past runs stay readable. */
  delete(idOrName: string, options?: RequestOptions): APIPromise<void> {
    return this._client._call({ ...options, method: 'DELETE', path: path`/v1/agents/${idOrName}`, operation: 'agents.delete' });
  }
}
