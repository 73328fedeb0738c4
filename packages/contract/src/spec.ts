// Finds, reads and caches openapi.yaml, and resolves the local `$ref`s inside it.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** A JSON Schema (OpenAPI 3.1 uses JSON Schema 2020-12); kept loose on purpose: the spec is data, not code. */
export type SchemaObject = { [keyword: string]: unknown };
export interface ReferenceObject {
  $ref: string;
}

export interface ExampleObject {
  summary?: string;
  value?: unknown;
  externalValue?: string;
  [key: string]: unknown;
}

export interface MediaTypeObject {
  schema?: SchemaObject | boolean;
  example?: unknown;
  examples?: Record<string, ExampleObject | ReferenceObject>;
  [key: string]: unknown;
}

export interface HeaderObject {
  description?: string;
  required?: boolean;
  schema?: SchemaObject;
  example?: unknown;
  examples?: Record<string, ExampleObject | ReferenceObject>;
  [key: string]: unknown;
}

export interface ResponseObject {
  description?: string;
  headers?: Record<string, HeaderObject | ReferenceObject>;
  content?: Record<string, MediaTypeObject>;
  [key: string]: unknown;
}

export interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: SchemaObject;
  [key: string]: unknown;
}

export interface RequestBodyObject {
  required?: boolean;
  content?: Record<string, MediaTypeObject>;
  [key: string]: unknown;
}

export type SecurityRequirement = Record<string, string[]>;

export interface OperationObject {
  operationId?: string;
  tags?: string[];
  summary?: string;
  parameters?: Array<ParameterObject | ReferenceObject>;
  requestBody?: RequestBodyObject | ReferenceObject;
  responses?: Record<string, ResponseObject | ReferenceObject>;
  security?: SecurityRequirement[];
  [key: string]: unknown;
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export type PathItemObject = { [M in HttpMethod]?: OperationObject } & {
  parameters?: Array<ParameterObject | ReferenceObject>;
  [key: string]: unknown;
};

export interface OpenApiDocument {
  openapi: string;
  info?: { title?: string; version?: string; [key: string]: unknown };
  paths?: Record<string, PathItemObject>;
  components?: { [section: string]: Record<string, unknown> | undefined };
  security?: SecurityRequirement[];
  [key: string]: unknown;
}

function defaultSpecPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // Built: packages/contract/dist/index.js -> packages/contract/openapi.yaml (copied at build).
  // From source (vitest, tsx): packages/contract/src -> the repository's openapi.yaml, the file being edited.
  const packaged = resolve(here, '../openapi.yaml');
  const repoRoot = resolve(here, '../../../openapi.yaml');
  const candidates = basename(here) === 'src' ? [repoRoot, packaged] : [packaged, repoRoot];
  return candidates.find((candidate) => existsSync(candidate)) ?? candidates[0]!;
}

/** Absolute path of the openapi.yaml this package serves and validates against. */
export const specPath: string = defaultSpecPath();

const textCache = new Map<string, string>();
const specCache = new Map<string, OpenApiDocument>();

/** The raw YAML text of the spec (cached per path). */
export function specText(path: string = specPath): string {
  const absolute = resolve(path);
  let text = textCache.get(absolute);
  if (text === undefined) {
    try {
      text = readFileSync(absolute, 'utf8');
    } catch (error) {
      throw new Error(`cannot read the OpenAPI spec at ${absolute}: ${(error as Error).message}`, { cause: error });
    }
    textCache.set(absolute, text);
  }
  return text;
}

/** The parsed spec (cached per path). Treat it as read-only: validators and handlers share it. */
export function loadSpec(path: string = specPath): OpenApiDocument {
  const absolute = resolve(path);
  let spec = specCache.get(absolute);
  if (spec === undefined) {
    let parsed: unknown;
    try {
      parsed = parse(specText(absolute));
    } catch (error) {
      throw new Error(`${absolute} is not valid YAML: ${(error as Error).message}`, { cause: error });
    }
    if (!isObject(parsed) || typeof parsed.openapi !== 'string') {
      throw new Error(`${absolute} is not an OpenAPI document (no \`openapi\` version field)`);
    }
    spec = parsed as OpenApiDocument;
    specCache.set(absolute, spec);
  }
  return spec;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isReference(value: unknown): value is ReferenceObject {
  return isObject(value) && typeof value.$ref === 'string';
}

/** Escapes one JSON pointer token (RFC 6901). */
export function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

function unescapePointerToken(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

/** Joins tokens into a JSON pointer, e.g. ['paths', '/v1/runs'] -> '/paths/~1v1~1runs'. */
export function pointerOf(...tokens: string[]): string {
  return tokens.map((token) => `/${escapePointerToken(token)}`).join('');
}

/** Reads the value at a JSON pointer (`/a/b` or `#/a/b`) inside the document. */
export function resolvePointer(spec: OpenApiDocument, pointer: string): unknown {
  const raw = pointer.startsWith('#') ? decodeURIComponent(pointer.slice(1)) : pointer;
  if (raw === '') return spec;
  let current: unknown = spec;
  for (const token of raw.slice(1).split('/').map(unescapePointerToken)) {
    if (Array.isArray(current)) current = current[Number(token)];
    else if (isObject(current)) current = current[token];
    else return undefined;
  }
  return current;
}

/**
 * Follows local `$ref`s (`#/components/...`) until a non-reference object, returning it with the JSON pointer
 * where it lives, so ajv can be pointed at the schema inside it.
 */
export function deref<T>(spec: OpenApiDocument, value: T | ReferenceObject, pointer: string): { value: T; pointer: string } {
  let current: unknown = value;
  let at = pointer;
  const seen = new Set<string>();
  while (isReference(current)) {
    const ref = current.$ref;
    if (!ref.startsWith('#')) throw new Error(`external $ref ${ref} at ${at} is not supported: keep openapi.yaml self-contained`);
    if (seen.has(ref)) throw new Error(`circular $ref ${ref} at ${at}`);
    seen.add(ref);
    at = decodeURIComponent(ref.slice(1));
    current = resolvePointer(spec, at);
    if (current === undefined) throw new Error(`unresolvable $ref ${ref} at ${pointer}`);
  }
  return { value: current as T, pointer: at };
}

/** Follows `$ref`s of a schema (not its sub-schemas) to the schema object they name. */
export function derefSchema(spec: OpenApiDocument, schema: unknown): SchemaObject | boolean | undefined {
  if (schema === undefined) return undefined;
  if (typeof schema === 'boolean') return schema;
  if (!isObject(schema)) return undefined;
  let current: SchemaObject = schema;
  const seen = new Set<string>();
  // In 2020-12 a $ref may sit beside other keywords; those siblings are kept by merging over the target.
  while (typeof current.$ref === 'string' && current.$ref.startsWith('#')) {
    const ref = current.$ref;
    if (seen.has(ref)) break;
    seen.add(ref);
    const target = resolvePointer(spec, ref);
    if (!isObject(target)) break;
    const { $ref: _ignored, ...siblings } = current;
    current = { ...target, ...siblings };
  }
  return current;
}
