// @genericcorp/sdk: the typed client of the Generic Corp Integration Hub API.
export {
  GenericCorp,
  GenericCorp as default,
  DEFAULT_BASE_URL,
  DEFAULT_MAX_RETRIES,
  DEFAULT_TIMEOUT_MS,
  type ClientOptions,
  type RequestOptions,
  type RawRequestOptions,
  type TypedRequestOptions,
  type PathsFor,
  type SuccessBody,
  type HttpMethod,
} from './client.js';
export { APIPromise, type WithResponse } from './core/api-promise.js';
export { APIResponse } from './core/response.js';
export { Page, PagePromise, type ListBody } from './core/pagination.js';
export { ResumableStream } from './core/streaming.js';
export type { Logger, LogLevel } from './core/logger.js';
export type { Tolerant, UnknownString } from './core/types.js';
export {
  GenericCorpError,
  MissingCredentialsError,
  APIError,
  BadRequestError,
  ValidationError,
  AuthenticationError,
  QuotaExceededError,
  PermissionDeniedError,
  NotFoundError,
  RequestTimeoutError,
  ConflictError,
  PayloadTooLargeError,
  UnprocessableEntityError,
  RateLimitError,
  InternalServerError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIUserAbortError,
  APIResponseParseError,
  OAuthError,
  type Problem,
  type FieldError,
  type OAuthErrorCode,
  type ResponseHeaders,
} from './core/error.js';
export { VERSION } from './version.js';

export type { Schemas, Operations, Scope, Plan, Role, Tenant, User, ApiKey, ApiKeyWithSecret, TenantProvisioned, ListParams } from './resources/shared.js';
export { HealthResource, type HealthStatus, type Readiness } from './resources/health.js';
export { BootstrapResource, type BootstrapParams } from './resources/bootstrap.js';
export {
  AuthResource,
  DeviceFlowResource,
  DEVICE_CODE_GRANT,
  DEFAULT_CLIENT_ID,
  type LoginParams,
  type RefreshParams,
  type LogoutParams,
  type TokenParams,
  type TokenResponse,
  type AuthorizationServerMetadata,
  type DeviceCodeResponse,
  type DeviceAuthorization,
  type DeviceStartParams,
  type DevicePollOptions,
  type DevicePendingInfo,
} from './resources/auth.js';
export { MeResource, type Me } from './resources/me.js';
export {
  TenantResource,
  type TenantUpdateParams,
  type TenantDeleteParams,
  type TenantDeletion,
  type TenantExport,
} from './resources/tenant.js';
export {
  TenantProvidersResource,
  type ProviderName,
  type TenantProvider,
  type TenantProviderSetParams,
  type TenantProviderListParams,
} from './resources/tenant-providers.js';
export { MembersResource, type Member, type MemberCreateParams, type MemberUpdateParams, type MemberListParams } from './resources/members.js';
export {
  AdminResource,
  AdminTenantsResource,
  type AdminTenant,
  type AdminTenantCreateParams,
  type AdminTenantUpdateParams,
  type AdminTenantListParams,
} from './resources/admin.js';
export { ApiKeysResource, type ApiKeyCreateParams, type ApiKeyListParams } from './resources/api-keys.js';
export {
  AgentsResource,
  type Agent,
  type AgentCreateParams,
  type AgentUpdateParams,
  type AgentListParams,
  type JsonSchema,
  type ModelAgentConfig,
  type WebhookAgentConfig,
} from './resources/agents.js';
export {
  RunsResource,
  RunWaitTimeoutError,
  TERMINAL_RUN_STATUSES,
  type Run,
  type RunStatus,
  type RunUsage,
  type RunCreateParams,
  type RunListParams,
  type RunEvent,
  type RunEventType,
  type RunEventDataByType,
  type RunEventListParams,
  type RunEventStream,
  type RunStreamOptions,
  type RunWaitOptions,
  type RunCreateAndWaitOptions,
} from './resources/runs.js';
export { UsageResource, type Usage, type UsageBucket, type UsageSummary, type Quota, type UsageParams } from './resources/usage.js';
// The undici dispatchers a client's `dispatcher` option takes (proxies, mTLS), from the undici this SDK uses.
export { Agent as UndiciAgent, EnvHttpProxyAgent, ProxyAgent, type Dispatcher } from 'undici';
