// The repository's openapi.yaml against this package: every operation mocked, served and validated.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createContractFetch,
  createValidators,
  deref,
  listOperations,
  loadSpec,
  mediaTypeExample,
  pointerOf,
  type HeaderObject,
  type OperationInfo,
  type RequestBodyObject,
  type ResponseObject,
} from '../src/index.js';
import { createSpecHandlers, serveHandlers, type ServedHandlers } from '../src/msw.js';
import { concretePath, repoSpecPath } from './helpers.js';

if (!existsSync(repoSpecPath)) throw new Error(`${repoSpecPath} is missing: it is the API's single source of truth`);

const spec = loadSpec(repoSpecPath);
const validators = createValidators(spec);
const operations = listOperations(spec);
const cases = operations.map((operation) => [operation.operationId, operation] as const);

/** Operations the team agreed on (brief DESIGN.md); the spec may add more, never rename these. */
const AGREED: Array<[string, string, string]> = [
  ['getHealthz', 'get', '/healthz'],
  ['getReadyz', 'get', '/readyz'],
  ['getMetrics', 'get', '/metrics'],
  ['getOpenapi', 'get', '/openapi.yaml'],
  ['getAuthorizationServerMetadata', 'get', '/.well-known/oauth-authorization-server'],
  ['getDevicePage', 'get', '/device'],
  ['submitDevicePage', 'post', '/device'],
  ['bootstrap', 'post', '/v1/bootstrap'],
  ['login', 'post', '/v1/auth/login'],
  ['refreshToken', 'post', '/v1/auth/refresh'],
  ['logout', 'post', '/v1/auth/logout'],
  ['createDeviceCode', 'post', '/v1/auth/device/code'],
  ['exchangeToken', 'post', '/v1/auth/token'],
  ['getMe', 'get', '/v1/me'],
  ['getTenant', 'get', '/v1/tenant'],
  ['updateTenant', 'patch', '/v1/tenant'],
  ['exportTenant', 'get', '/v1/tenant/export'],
  ['deleteTenant', 'delete', '/v1/tenant'],
  ['listMembers', 'get', '/v1/members'],
  ['createMember', 'post', '/v1/members'],
  ['updateMember', 'patch', '/v1/members/{id}'],
  ['deleteMember', 'delete', '/v1/members/{id}'],
  ['adminCreateTenant', 'post', '/v1/admin/tenants'],
  ['adminListTenants', 'get', '/v1/admin/tenants'],
  ['adminUpdateTenant', 'patch', '/v1/admin/tenants/{id}'],
  ['createApiKey', 'post', '/v1/api-keys'],
  ['listApiKeys', 'get', '/v1/api-keys'],
  ['getApiKey', 'get', '/v1/api-keys/{id}'],
  ['revokeApiKey', 'delete', '/v1/api-keys/{id}'],
  ['rotateApiKey', 'post', '/v1/api-keys/{id}/rotate'],
  ['listAgents', 'get', '/v1/agents'],
  ['createAgent', 'post', '/v1/agents'],
  ['getAgent', 'get', '/v1/agents/{id}'],
  ['updateAgent', 'patch', '/v1/agents/{id}'],
  ['deleteAgent', 'delete', '/v1/agents/{id}'],
  ['createRun', 'post', '/v1/runs'],
  ['listRuns', 'get', '/v1/runs'],
  ['getRun', 'get', '/v1/runs/{id}'],
  ['cancelRun', 'post', '/v1/runs/{id}/cancel'],
  ['listRunEvents', 'get', '/v1/runs/{id}/events'],
  ['waitRun', 'get', '/v1/runs/{id}/wait'],
  ['getUsage', 'get', '/v1/usage'],
  ['getUsageSummary', 'get', '/v1/usage/summary'],
];

/** The request body example of an operation and its content type, if it takes a body. */
function requestExample(operation: OperationInfo): { contentType: string; body: unknown } | undefined {
  if (!operation.operation.requestBody) return undefined;
  const { value, pointer } = deref<RequestBodyObject>(spec, operation.operation.requestBody, `${operation.pointer}/requestBody`);
  const contentType = operation.requestContentTypes[0];
  if (contentType === undefined) return undefined;
  return { contentType, body: mediaTypeExample(spec, value.content![contentType]!, `${pointer}${pointerOf('content', contentType)}`) };
}

describe('openapi.yaml', () => {
  it('has every operation the team agreed on, at its method and path', () => {
    const found = new Set(operations.map(({ operationId, method, path }) => `${operationId} ${method.toUpperCase()} ${path}`));
    const missing = AGREED.map(([operationId, method, path]) => `${operationId} ${method.toUpperCase()} ${path}`).filter(
      (agreed) => !found.has(agreed),
    );
    expect(missing).toEqual([]);
  });

  it.each(cases)('%s declares a required X-Request-Id on every response', (_id, operation) => {
    const missing: string[] = [];
    for (const [status, declared] of Object.entries(operation.operation.responses ?? {})) {
      const { value } = deref<ResponseObject>(spec, declared, `${operation.pointer}${pointerOf('responses', status)}`);
      const header = Object.entries(value.headers ?? {}).find(([name]) => name.toLowerCase() === 'x-request-id');
      if (!header || !deref<HeaderObject>(spec, header[1], '').value.required) missing.push(status);
    }
    expect(missing).toEqual([]);
  });

  it.each(cases.filter(([, operation]) => operation.operation.requestBody !== undefined))(
    '%s: the request body example is valid',
    (_id, operation) => {
      const example = requestExample(operation)!;
      expect(validators.validateRequestBody(operation.operationId, example.body, example.contentType)).toEqual({
        ok: true,
        operationId: operation.operationId,
      });
    },
  );
});

describe('mock handlers built from openapi.yaml, served on loopback', () => {
  let served: ServedHandlers;
  beforeAll(async () => {
    served = await serveHandlers(createSpecHandlers(spec));
  });
  afterAll(async () => {
    await served.close();
  });

  it.each(cases)('%s answers a 2xx that passes the validators', async (_id, operation) => {
    const client = createContractFetch({ baseUrl: served.url, validators, headers: { authorization: 'Bearer gc_live_test' } });
    const example = requestExample(operation);
    const isForm = example?.contentType === 'application/x-www-form-urlencoded';
    const response = await client.call(operation.method, concretePath(operation.path), {
      operationId: operation.operationId,
      ...(example === undefined
        ? {}
        : isForm
          ? { form: Object.fromEntries(Object.entries(example.body as Record<string, unknown>).map(([name, value]) => [name, String(value)])) }
          : { body: example.body, headers: { 'content-type': example.contentType } }),
    });
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(300);
  });

  it.each(cases.filter(([, operation]) => !operation.isPublic))(
    '%s answers its 401 problem without credentials',
    async (_id, operation) => {
      const client = createContractFetch({ baseUrl: served.url, validators });
      const response = await client.call(operation.method, concretePath(operation.path), { operationId: operation.operationId });
      expect(response.status).toBe(401);
      expect(response.contentType).toBe('application/problem+json');
    },
  );
});
