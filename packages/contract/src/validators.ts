// Checks responses (and request bodies) against openapi.yaml with ajv: status, content type, headers, body.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { createOperationMatcher, listOperations, pathnameOf, type OperationInfo } from './operations.js';
import {
  deref,
  derefSchema,
  escapePointerToken,
  isObject,
  type HeaderObject,
  type MediaTypeObject,
  type OpenApiDocument,
  type RequestBodyObject,
  type ResponseObject,
} from './spec.js';

// ajv-formats is CommonJS: under NodeNext its default import is `module.exports`, whose `.default` is the plugin.
const addFormats = addFormatsModule.default;

export interface ResponseToValidate {
  /** Skips path matching when given (the path must still fit the operation's template). */
  operationId?: string;
  method: string;
  /** Concrete path as sent, query string allowed: `/v1/runs/run_123?x=1` (a full URL works too). */
  path: string;
  status: number;
  /** Response headers; names are compared case-insensitively. */
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or the text for non-JSON bodies; undefined or '' for an empty body. */
  body?: unknown;
}

export type ValidationResult = { ok: true; operationId: string } | { ok: false; operationId?: string; errors: string[] };

export class ContractViolationError extends Error {
  override name = 'ContractViolationError';
  constructor(
    message: string,
    readonly errors: string[],
    readonly operationId: string | undefined,
  ) {
    super(message);
  }
}

export interface ResolvedResponse {
  operation: OperationInfo;
  /** The key of `responses` that applies: `200`, `4XX` or `default`. */
  statusKey: string;
  response: ResponseObject;
  /** JSON pointer of the (dereferenced) response object inside the spec. */
  pointer: string;
}

export interface Validators {
  readonly spec: OpenApiDocument;
  validateResponse(input: ResponseToValidate): ValidationResult;
  /** Like validateResponse, but throws a ContractViolationError listing every mismatch. */
  assertResponse(input: ResponseToValidate): void;
  /** Validates a request body against the operation's requestBody (JSON by default). */
  validateRequestBody(operationId: string, body: unknown, contentType?: string): ValidationResult;
  /** Compiles (once) a schema named by a ref: `#/components/schemas/Run` or `openapi#/components/schemas/Run`. */
  compileSchema(ref: string): ValidateFunction;
  /** The spec operation a concrete method and path belong to, or undefined. */
  matchOperation(method: string, path: string): OperationInfo | undefined;
  /** The response object the spec declares for an operation and status (exact, `NXX` range, then `default`). */
  resolveResponse(operationId: string, status: number): ResolvedResponse | undefined;
}

const SPEC_ID = 'openapi';

export function isJsonMediaType(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/** `Application/JSON; charset=utf-8` -> `application/json`. */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  const value = contentType?.split(';')[0]?.trim().toLowerCase();
  return value ? value : undefined;
}

/** The declared content key that covers an actual media type: exact, then `type/*`, then `*\/*`. */
export function matchContentKey(declared: string[], mediaType: string): string | undefined {
  const lower = declared.map((key) => key.toLowerCase());
  const exact = lower.indexOf(mediaType);
  if (exact !== -1) return declared[exact];
  const wildcard = lower.indexOf(`${mediaType.split('/')[0]}/*`);
  if (wildcard !== -1) return declared[wildcard];
  const any = lower.indexOf('*/*');
  return any === -1 ? undefined : declared[any];
}

export function formatAjvError(error: ErrorObject, where: string): string {
  const at = `${where}${error.instancePath}`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return `${at} must NOT have additional property "${String(params.additionalProperty)}"`;
    case 'unevaluatedProperties':
      return `${at} must NOT have unevaluated property "${String(params.unevaluatedProperty)}"`;
    case 'required':
      return `${at} must have required property "${String(params.missingProperty)}"`;
    case 'enum':
      return `${at} must be one of ${JSON.stringify(params.allowedValues)}`;
    case 'const':
      return `${at} must be ${JSON.stringify(params.allowedValue)}`;
    default:
      return `${at} ${error.message ?? `fails ${error.keyword}`}`;
  }
}

function headerValue(headers: ResponseToValidate['headers'], name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return Array.isArray(value) ? value.join(', ') : value;
  }
  return undefined;
}

function isEmptyBody(body: unknown): boolean {
  return body === undefined || body === null || body === '';
}

/** Header values are strings; numbers and booleans are compared as the schema types them. */
function coerceHeader(value: string, schema: unknown): unknown {
  const types = isObject(schema) ? schema.type : undefined;
  const list = Array.isArray(types) ? types : [types];
  if ((list.includes('integer') || list.includes('number')) && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  if (list.includes('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

export function createValidators(spec: OpenApiDocument): Validators {
  const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
  // keywords: false -> formats only. ajv-formats' formatMaximum/... keywords generate code with its own copy of
  // ajv's codegen, which npm may install apart from this package's ajv; openapi.yaml does not use them.
  addFormats(ajv, { mode: 'full', keywords: false });
  ajv.addSchema(spec as object, SPEC_ID);

  const compiled = new Map<string, ValidateFunction>();
  const compileSchema = (ref: string): ValidateFunction => {
    const full = ref.startsWith('#') ? `${SPEC_ID}${ref}` : ref;
    let validate = compiled.get(full);
    if (!validate) {
      validate = ajv.compile({ $ref: full });
      compiled.set(full, validate);
    }
    return validate;
  };
  const refFor = (pointer: string) => `${SPEC_ID}#${pointer.split('/').map(encodeURIComponent).join('/')}`;

  const operations = listOperations(spec);
  const byId = new Map(operations.map((operation) => [operation.operationId, operation]));
  const match = createOperationMatcher(spec);

  const resolveResponse = (operationId: string, status: number): ResolvedResponse | undefined => {
    const operation = byId.get(operationId);
    if (!operation) return undefined;
    const responses = operation.operation.responses ?? {};
    const key = [String(status), `${String(status)[0]}XX`, `${String(status)[0]}xx`, 'default'].find((candidate) =>
      Object.hasOwn(responses, candidate),
    );
    if (key === undefined) return undefined;
    const { value, pointer } = deref<ResponseObject>(
      spec,
      responses[key]!,
      `${operation.pointer}/responses/${escapePointerToken(key)}`,
    );
    return { operation, statusKey: key, response: value, pointer };
  };

  const validateBody = (
    validate: ValidateFunction,
    body: unknown,
    where: string,
    errors: string[],
  ): void => {
    if (!validate(body)) for (const error of validate.errors ?? []) errors.push(formatAjvError(error, where));
  };

  const validateResponse = (input: ResponseToValidate): ValidationResult => {
    const errors: string[] = [];
    let operation: OperationInfo | undefined;
    if (input.operationId !== undefined) {
      operation = byId.get(input.operationId);
      if (!operation) return { ok: false, errors: [`the spec has no operation ${input.operationId}`] };
      const matched = match(input.method, input.path);
      if (!matched.ok || matched.operation !== operation) {
        return {
          ok: false,
          operationId: operation.operationId,
          errors: [`${input.method.toUpperCase()} ${pathnameOf(input.path)} is not ${operation.operationId} (${operation.method.toUpperCase()} ${operation.path})`],
        };
      }
    } else {
      const matched = match(input.method, input.path);
      if (!matched.ok) return { ok: false, errors: [matched.error] };
      operation = matched.operation;
    }
    const operationId = operation.operationId;

    const resolved = resolveResponse(operationId, input.status);
    if (!resolved) {
      const declared = Object.keys(operation.operation.responses ?? {}).join(', ');
      return { ok: false, operationId, errors: [`status ${input.status} is not declared (declared: ${declared})`] };
    }
    const { response, pointer } = resolved;

    // Headers the spec requires on this response, and the values of those it declares.
    for (const [name, declaredHeader] of Object.entries(response.headers ?? {})) {
      if (name.toLowerCase() === 'content-type') continue; // OpenAPI: a Content-Type header entry is ignored
      const header = deref<HeaderObject>(spec, declaredHeader, `${pointer}/headers/${escapePointerToken(name)}`);
      const value = headerValue(input.headers, name);
      if (value === undefined) {
        if (header.value.required) errors.push(`header ${name} is required but missing`);
        continue;
      }
      if (header.value.schema !== undefined) {
        const validate = compileSchema(refFor(`${header.pointer}/schema`));
        validateBody(validate, coerceHeader(value, derefSchema(spec, header.value.schema)), `header ${name}`, errors);
      }
    }

    const content = response.content ?? {};
    const declaredTypes = Object.keys(content);
    const mediaType = mediaTypeOf(headerValue(input.headers, 'content-type'));
    if (declaredTypes.length === 0) {
      if (!isEmptyBody(input.body)) {
        errors.push(`status ${input.status} declares no body, got ${mediaType ?? 'a body without content type'}`);
      }
    } else if (mediaType === undefined) {
      errors.push(`content-type header missing (declared: ${declaredTypes.join(', ')})`);
    } else {
      const contentKey = matchContentKey(declaredTypes, mediaType);
      if (contentKey === undefined) {
        errors.push(`content type ${mediaType} is not declared for status ${input.status} (declared: ${declaredTypes.join(', ')})`);
      } else if (mediaType !== 'text/event-stream') {
        // An event stream is consumed incrementally; its frames are not one schema instance.
        const media: MediaTypeObject = content[contentKey]!;
        let body = input.body;
        let parsable = true;
        if (isJsonMediaType(mediaType) && typeof body === 'string') {
          try {
            body = JSON.parse(body) as unknown;
          } catch {
            parsable = false;
            errors.push(`body is not valid JSON although the content type is ${mediaType}`);
          }
        }
        if (parsable && media.schema !== undefined) {
          const validate = compileSchema(refFor(`${pointer}/content/${escapePointerToken(contentKey)}/schema`));
          validateBody(validate, isJsonMediaType(mediaType) ? body : (body ?? ''), 'body', errors);
        }
      }
    }
    return errors.length === 0 ? { ok: true, operationId } : { ok: false, operationId, errors };
  };

  const assertResponse = (input: ResponseToValidate): void => {
    const result = validateResponse(input);
    if (result.ok) return;
    const operation = result.operationId ?? 'unknown operation';
    const contentType = headerValue(input.headers, 'content-type');
    let sample = typeof input.body === 'string' ? input.body : JSON.stringify(input.body);
    if (sample !== undefined && sample.length > 500) sample = `${sample.slice(0, 500)}…`;
    const message = [
      `response does not match openapi.yaml: ${operation} (${input.method.toUpperCase()} ${input.path}) -> ${input.status}${contentType ? ` ${contentType}` : ''}`,
      ...result.errors.map((error) => `  - ${error}`),
      ...(sample === undefined || sample === '' ? [] : [`  body: ${sample}`]),
    ].join('\n');
    throw new ContractViolationError(message, result.errors, result.operationId);
  };

  const validateRequestBody = (operationId: string, body: unknown, contentType?: string): ValidationResult => {
    const operation = byId.get(operationId);
    if (!operation) return { ok: false, errors: [`the spec has no operation ${operationId}`] };
    const requestBodyRef = operation.operation.requestBody;
    if (!requestBodyRef) {
      return isEmptyBody(body)
        ? { ok: true, operationId }
        : { ok: false, operationId, errors: [`${operationId} takes no request body`] };
    }
    const { value: requestBody, pointer } = deref<RequestBodyObject>(spec, requestBodyRef, `${operation.pointer}/requestBody`);
    if (isEmptyBody(body)) {
      return requestBody.required
        ? { ok: false, operationId, errors: [`${operationId} requires a request body`] }
        : { ok: true, operationId };
    }
    const declared = Object.keys(requestBody.content ?? {});
    const wanted = mediaTypeOf(contentType) ?? (declared.find(isJsonMediaType) ?? declared[0]);
    const contentKey = wanted === undefined ? undefined : matchContentKey(declared, wanted);
    if (contentKey === undefined) {
      return { ok: false, operationId, errors: [`request content type ${wanted ?? '(none)'} is not declared (declared: ${declared.join(', ')})`] };
    }
    if (requestBody.content?.[contentKey]?.schema === undefined) return { ok: true, operationId };
    const errors: string[] = [];
    const validate = compileSchema(refFor(`${pointer}/content/${escapePointerToken(contentKey)}/schema`));
    validateBody(validate, body, 'body', errors);
    return errors.length === 0 ? { ok: true, operationId } : { ok: false, operationId, errors };
  };

  const matchOperation = (method: string, path: string): OperationInfo | undefined => {
    const matched = match(method, path);
    return matched.ok ? matched.operation : undefined;
  };

  return { spec, validateResponse, assertResponse, validateRequestBody, compileSchema, matchOperation, resolveResponse };
}
