// Lists the spec's operations and maps concrete request paths back to them.
import {
  HTTP_METHODS,
  deref,
  pointerOf,
  type HttpMethod,
  type OpenApiDocument,
  type OperationObject,
  type RequestBodyObject,
} from './spec.js';

export interface OperationInfo {
  operationId: string;
  /** Lower-case HTTP method. */
  method: HttpMethod;
  /** OpenAPI path template, e.g. `/v1/runs/{id}`. */
  path: string;
  /** The same path in Fastify / path-to-regexp syntax, e.g. `/v1/runs/:id`. */
  fastifyPath: string;
  tags: string[];
  /** Scopes of the `bearerAuth` requirement; [] for public operations. */
  scopes: string[];
  /** True when the operation can be called without credentials (`security: []` or an empty requirement). */
  isPublic: boolean;
  requestContentTypes: string[];
  /** JSON pointer of the operation inside the spec, e.g. `/paths/~1v1~1runs/post`. */
  pointer: string;
  operation: OperationObject;
}

const BEARER_SCHEME = 'bearerAuth';

const operationsCache = new WeakMap<OpenApiDocument, OperationInfo[]>();

/** Every operation of the spec, in document order. Throws when one lacks an operationId (the spec requires them). */
export function listOperations(spec: OpenApiDocument): OperationInfo[] {
  const cached = operationsCache.get(spec);
  if (cached) return cached;
  const operations: OperationInfo[] = [];
  for (const [path, pathItem] of Object.entries(spec.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const operation = pathItem[method];
      if (!operation) continue;
      const pointer = pointerOf('paths', path, method);
      if (typeof operation.operationId !== 'string' || operation.operationId === '') {
        throw new Error(`${method.toUpperCase()} ${path} has no operationId`);
      }
      const security = operation.security ?? spec.security ?? [];
      const bearer = security.find((requirement) => Object.hasOwn(requirement, BEARER_SCHEME));
      const requestBody = operation.requestBody
        ? deref<RequestBodyObject>(spec, operation.requestBody, `${pointer}/requestBody`).value
        : undefined;
      operations.push({
        operationId: operation.operationId,
        method,
        path,
        fastifyPath: toColonPath(path),
        tags: operation.tags ?? [],
        scopes: bearer?.[BEARER_SCHEME] ?? [],
        isPublic: security.length === 0 || security.some((requirement) => Object.keys(requirement).length === 0),
        requestContentTypes: Object.keys(requestBody?.content ?? {}),
        pointer,
        operation,
      });
    }
  }
  const ids = new Set<string>();
  for (const { operationId } of operations) {
    if (ids.has(operationId)) throw new Error(`operationId ${operationId} is used twice`);
    ids.add(operationId);
  }
  operationsCache.set(spec, operations);
  return operations;
}

/** `/v1/runs/{id}/events` -> `/v1/runs/:id/events`. */
export function toColonPath(template: string): string {
  return template.replace(/\{([^}]+)\}/g, ':$1');
}

/**
 * Orders templates so the more literal one comes first, segment by segment from the left:
 * `/v1/agents/catalog` before `/v1/agents/{id}`. Used for matching and for registering mock handlers.
 */
export function compareTemplateSpecificity(a: string, b: string): number {
  const sa = a.split('/');
  const sb = b.split('/');
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const diff = segmentRank(sb[i]!) - segmentRank(sa[i]!);
    if (diff !== 0) return diff;
  }
  return sb.length - sa.length;
}

function segmentRank(segment: string): number {
  if (!segment.includes('{')) return 2;
  return /^\{[^}]+\}$/.test(segment) ? 0 : 1;
}

interface Route {
  template: string;
  regex: RegExp;
  paramNames: string[];
  byMethod: Map<HttpMethod, OperationInfo>;
}

export type MatchResult =
  | { ok: true; operation: OperationInfo; params: Record<string, string> }
  | { ok: false; error: string };

/** Strips origin, query and fragment from a concrete path or URL: `http://h/v1/runs?x=1` -> `/v1/runs`. */
export function pathnameOf(pathOrUrl: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUrl)) return new URL(pathOrUrl).pathname;
  const end = pathOrUrl.search(/[?#]/);
  return end === -1 ? pathOrUrl : pathOrUrl.slice(0, end);
}

/** Builds a matcher from concrete paths (`/v1/runs/run_1?x=1`) to the spec's operations. */
export function createOperationMatcher(spec: OpenApiDocument): (method: string, path: string) => MatchResult {
  const routes = new Map<string, Route>();
  for (const operation of listOperations(spec)) {
    let route = routes.get(operation.path);
    if (!route) {
      const paramNames: string[] = [];
      const source = operation.path
        .split(/(\{[^}]+\})/)
        .map((part) => {
          const param = /^\{([^}]+)\}$/.exec(part);
          if (param) {
            paramNames.push(param[1]!);
            return '([^/]+)';
          }
          return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        })
        .join('');
      route = { template: operation.path, regex: new RegExp(`^${source}$`), paramNames, byMethod: new Map() };
      routes.set(operation.path, route);
    }
    route.byMethod.set(operation.method, operation);
  }
  const ordered = [...routes.values()].sort((a, b) => compareTemplateSpecificity(a.template, b.template));

  return (method, path) => {
    const pathname = pathnameOf(path);
    const wanted = method.toLowerCase() as HttpMethod;
    const candidates = ordered.filter((route) => route.regex.test(pathname));
    if (candidates.length === 0) return { ok: false, error: `no path of the spec matches ${pathname}` };
    const route = candidates.find((candidate) => candidate.byMethod.has(wanted));
    if (!route) {
      const templates = candidates.map((candidate) => candidate.template).join(', ');
      return { ok: false, error: `the spec has no ${method.toUpperCase()} operation on ${templates}` };
    }
    const values = route.regex.exec(pathname)!.slice(1);
    const params: Record<string, string> = {};
    route.paramNames.forEach((name, i) => {
      params[name] = decodeURIComponent(values[i]!);
    });
    return { ok: true, operation: route.byMethod.get(wanted)!, params };
  };
}
