// Model types used by several resources, taken from openapi.yaml's components.
import type { Tolerant } from '../core/types.js';
import type { components, operations } from '../generated/openapi.js';

/** openapi.yaml's component schemas, exactly as generated. */
export type Schemas = components['schemas'];
/** openapi.yaml's operations, exactly as generated. */
export type Operations = operations;

export type Scope = Schemas['Scope'];
export type Plan = Schemas['Plan'];
export type Role = Schemas['Role'];
export type Tenant = Tolerant<Schemas['Tenant']>;
export type User = Tolerant<Schemas['User']>;
export type ApiKey = Tolerant<Schemas['ApiKey']>;
/** An API key with its full secret `key`, returned once: at creation, rotation and bootstrap. */
export type ApiKeyWithSecret = Tolerant<Schemas['ApiKeyWithSecret']>;
/** A new tenant, its owner and an API key with its secret (bootstrap and `admin.tenants.create`). */
export type TenantProvisioned = Tolerant<Schemas['BootstrapResponse']>;

/** `limit` (1..100, default 20) and an opaque `cursor`; a list method's other filters come on top. */
export interface ListParams {
  limit?: number;
  cursor?: string;
}
