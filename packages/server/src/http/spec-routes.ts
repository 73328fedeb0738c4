// Turns openapi.yaml operations into Fastify routes: the spec's schemas validate requests and serialize responses.
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { listOperations, loadSpec, type OperationInfo as SpecOperation } from '@genericcorp/contract';

export type OperationHandler = (req: FastifyRequest, reply: FastifyReply) => unknown;
export type OperationHandlers = Record<string, OperationHandler>;

export interface OperationConfig {
  operationId: string;
  scopes: string[];
  isPublic: boolean;
  requestContentTypes: string[];
  /** The operation has a request body that the client may leave out (`requestBody.required: false`). */
  bodyOptional: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    operation?: OperationConfig;
  }
}

const JSON_TYPES = new Set(['application/json', 'application/problem+json']);
const SPEC_REF = 'openapi';

type SchemaObject = Record<string, unknown>;

/** The spec, its operations and the validators compiled from it, shared by the whole app. */
export class SpecRouter {
  readonly spec: SchemaObject;
  readonly operations: SpecOperation[];
  private readonly byId = new Map<string, SpecOperation>();
  private readonly registered = new Set<string>();
  private readonly matchers: { re: RegExp; method: string }[];
  readonly bodyAjv: Ajv2020;
  /** The spec's components as the validators and the response serializer see them (see openFreeFormObjects). */
  readonly components: Record<string, unknown>;
  readonly paramAjv: Ajv2020;

  constructor(spec: SchemaObject = loadSpec() as unknown as SchemaObject) {
    this.spec = spec;
    this.operations = listOperations(spec as never);
    for (const op of this.operations) this.byId.set(op.operationId, op);
    this.matchers = this.operations.map((op) => ({ re: templateRegex(op.path), method: op.method.toUpperCase() }));
    const components = { $id: SPEC_REF, components: openFreeFormObjects(spec.components) };
    this.components = components;
    const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
    this.bodyAjv = addFormats(new Ajv2020({ strict: false, allErrors: true, useDefaults: true, coerceTypes: false }));
    this.bodyAjv.addSchema(components);
    this.paramAjv = addFormats(
      new Ajv2020({ strict: false, allErrors: true, useDefaults: true, coerceTypes: 'array' }),
    );
    this.paramAjv.addSchema(components);
  }

  /** Registers the given operations on `app` (a plugin's scope). Unknown operationIds are a programming error. */
  register(app: FastifyInstance, handlers: OperationHandlers, options: { attachValidation?: boolean } = {}): void {
    for (const [operationId, handler] of Object.entries(handlers)) {
      const op = this.byId.get(operationId);
      if (!op) throw new Error(`handler for ${operationId}, which openapi.yaml does not define`);
      if (this.registered.has(operationId)) throw new Error(`operation ${operationId} registered twice`);
      this.registered.add(operationId);
      app.route({
        method: op.method.toUpperCase() as 'GET',
        url: op.fastifyPath,
        schema: this.routeSchema(op),
        // Endpoints whose errors have their own format (OAuth JSON, an HTML page) read req.validationError themselves.
        attachValidation: options.attachValidation ?? false,
        config: {
          operation: {
            operationId,
            scopes: op.scopes,
            isPublic: op.isPublic,
            requestContentTypes: op.requestContentTypes,
            bodyOptional: Boolean(op.operation.requestBody) && (this.deref(op.operation.requestBody as SchemaObject).required !== true),
          },
        },
        handler: async (req, reply) => handler(req, reply),
      });
    }
  }

  /** Spec operations that have no handler: the app refuses to start with any. */
  missing(): string[] {
    return this.operations.map((o) => o.operationId).filter((id) => !this.registered.has(id));
  }

  /** Methods the spec allows on a concrete path (for 405 answers); empty when the path is unknown. */
  allowedMethods(path: string): string[] {
    const out = new Set<string>();
    for (const m of this.matchers) if (m.re.test(path)) out.add(m.method);
    if (out.has('GET')) out.add('HEAD');
    return [...out];
  }

  compileValidator(schema: SchemaObject, httpPart: string | undefined) {
    const ajv = httpPart === 'body' ? this.bodyAjv : this.paramAjv;
    return ajv.compile(schema);
  }

  private routeSchema(op: SpecOperation): FastifySchema {
    const operation = op.operation as SchemaObject;
    // Only the operation's own parameters are validated. The ids declared on path items (`/v1/runs/{id}`, ...) are
    // deliberately not: a malformed id names nothing, so it is a 404 like any unknown id (as Stripe answers), not a
    // 400. A path parameter that must be validated (an enum, say) is declared on the operation.
    const params = ((operation.parameters as SchemaObject[] | undefined) ?? []).map((p) => this.deref(p));
    const group = (where: string, lower = false): SchemaObject | undefined => {
      const list = params.filter((p) => p.in === where);
      if (list.length === 0) return undefined;
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const p of list) {
        const name = lower ? String(p.name).toLowerCase() : String(p.name);
        properties[name] = rewriteRefs(p.schema ?? {});
        if (p.required) required.push(name);
      }
      return { type: 'object', properties, required };
    };
    const schema: FastifySchema = {};
    const path = group('path');
    const query = group('query');
    const headers = group('header', true);
    if (path) schema.params = path;
    if (query) schema.querystring = query;
    if (headers) schema.headers = headers;
    const body = operation.requestBody ? this.deref(operation.requestBody as SchemaObject) : undefined;
    if (body) {
      const content = (body.content ?? {}) as Record<string, { schema?: unknown }>;
      const first = Object.values(content)[0];
      if (first?.schema) schema.body = rewriteRefs(first.schema);
    }
    const response: Record<string, unknown> = {};
    for (const [status, raw] of Object.entries((operation.responses ?? {}) as Record<string, SchemaObject>)) {
      const res = this.deref(raw);
      const content = (res.content ?? {}) as Record<string, { schema?: unknown }>;
      const jsonContent: Record<string, { schema: unknown }> = {};
      for (const [type, media] of Object.entries(content)) {
        if (JSON_TYPES.has(type) && media.schema) jsonContent[type] = { schema: rewriteRefs(openFreeFormObjects(media.schema)) };
      }
      if (Object.keys(jsonContent).length > 0) response[status === 'default' ? '5xx' : status] = { content: jsonContent };
    }
    if (Object.keys(response).length > 0) schema.response = response;
    return schema;
  }

  private deref(obj: SchemaObject): SchemaObject {
    let cur = obj;
    for (let i = 0; i < 8 && typeof cur.$ref === 'string'; i++) {
      const parts = cur.$ref.replace(/^#\//, '').split('/').map(unescapePointer);
      let node: unknown = this.spec;
      for (const part of parts) node = (node as Record<string, unknown>)[part];
      cur = node as SchemaObject;
    }
    return cur;
  }
}

/**
 * JSON Schema reads `{ type: object }` without `properties` as "any object", but the response serializer
 * (fast-json-stringify) writes only declared properties and would send `{}`. Free-form objects (event data, input
 * schemas) are made explicit with `additionalProperties: true`, which means the same to a validator.
 */
function openFreeFormObjects<T>(node: T): T {
  const walk = (n: unknown): unknown => {
    if (Array.isArray(n)) return n.map(walk);
    if (!n || typeof n !== 'object') return n;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(n)) out[k] = walk(v);
    const type = out.type;
    const isObject = type === 'object' || (Array.isArray(type) && type.includes('object'));
    const constrained = ['properties', 'additionalProperties', 'patternProperties', 'oneOf', 'anyOf', 'allOf', '$ref', 'maxProperties'];
    if (isObject && !constrained.some((c) => c in out)) out.additionalProperties = true;
    return out;
  };
  return walk(node) as T;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Schemas inside the spec point at `#/components/...`; used standalone they must name the shared document. */
function rewriteRefs(node: unknown): SchemaObject {
  const walk = (n: unknown): unknown => {
    if (Array.isArray(n)) return n.map(walk);
    if (n && typeof n === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(n)) {
        if (k === '$ref' && typeof v === 'string' && v.startsWith('#/')) out[k] = SPEC_REF + v;
        else if (k === 'example' || k === 'examples') continue;
        else out[k] = walk(v);
      }
      return out;
    }
    return n;
  };
  return walk(node) as SchemaObject;
}

function templateRegex(template: string): RegExp {
  const escaped = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${escaped}/?$`);
}
