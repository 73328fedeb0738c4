// Picks the spec's examples for a response, or synthesizes a minimal value that its schema accepts.
import type { OperationInfo } from './operations.js';
import {
  deref,
  derefSchema,
  escapePointerToken,
  isObject,
  isReference,
  type ExampleObject,
  type HeaderObject,
  type MediaTypeObject,
  type OpenApiDocument,
  type ReferenceObject,
  type ResponseObject,
  type SchemaObject,
} from './spec.js';

const FORMAT_SAMPLES: Record<string, string> = {
  'date-time': '2026-01-01T00:00:00Z',
  date: '2026-01-01',
  time: '00:00:00Z',
  duration: 'PT1S',
  email: 'user@example.com',
  'idn-email': 'user@example.com',
  hostname: 'example.com',
  'idn-hostname': 'example.com',
  ipv4: '127.0.0.1',
  ipv6: '::1',
  uri: 'https://example.com/',
  url: 'https://example.com/',
  iri: 'https://example.com/',
  'uri-reference': '/',
  'iri-reference': '/',
  'uri-template': 'https://example.com/{id}',
  uuid: '00000000-0000-4000-8000-000000000000',
  'json-pointer': '',
  'relative-json-pointer': '0',
  regex: '.*',
  byte: '',
  binary: '',
  password: 'password',
};

const MAX_DEPTH = 24;

/**
 * A minimal value the schema accepts: an object's required properties only, an array's minItems, the first enum
 * value, a format's canonical sample, a string generated from `pattern`, null where the type allows it. A sub-schema's own `examples`/`example`
 * wins over synthesis, since the spec author chose it.
 */
export function synthesizeFromSchema(spec: OpenApiDocument, schema: unknown, depth = 0): unknown {
  const resolved = derefSchema(spec, schema);
  if (resolved === undefined || resolved === true) return {};
  if (resolved === false) return null;
  if (depth > MAX_DEPTH) return null;
  const own = schemaExample(resolved);
  if (own.found) return own.value;
  if ('const' in resolved) return resolved.const;
  if (Array.isArray(resolved.enum) && resolved.enum.length > 0) return resolved.enum[0];

  if (Array.isArray(resolved.allOf)) return synthesizeFromSchema(spec, mergeAllOf(spec, resolved), depth + 1);
  for (const keyword of ['oneOf', 'anyOf'] as const) {
    const alternatives = resolved[keyword];
    if (Array.isArray(alternatives) && alternatives.length > 0) {
      const { [keyword]: _alternatives, ...rest } = resolved;
      const first = derefSchema(spec, alternatives[0]);
      return synthesizeFromSchema(spec, isObject(first) ? mergeSchemas(rest, first) : first, depth + 1);
    }
  }

  const type = pickType(resolved);
  switch (type) {
    case 'null':
      return null;
    case 'boolean':
      return false;
    case 'integer':
    case 'number':
      return synthesizeNumber(resolved, type);
    case 'string':
      return synthesizeString(resolved);
    case 'array': {
      const count = typeof resolved.minItems === 'number' ? resolved.minItems : 0;
      return Array.from({ length: count }, () => synthesizeFromSchema(spec, resolved.items, depth + 1));
    }
    case 'object': {
      const properties = isObject(resolved.properties) ? resolved.properties : {};
      const required = Array.isArray(resolved.required) ? resolved.required.map(String) : [];
      const value: Record<string, unknown> = {};
      for (const name of required) {
        value[name] = synthesizeFromSchema(spec, properties[name] ?? resolved.additionalProperties, depth + 1);
      }
      return value;
    }
    default:
      return {};
  }
}

function schemaExample(schema: SchemaObject): { found: boolean; value?: unknown } {
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return { found: true, value: schema.examples[0] };
  if ('example' in schema && schema.example !== undefined) return { found: true, value: schema.example };
  return { found: false };
}

function pickType(schema: SchemaObject): string | undefined {
  const { type } = schema;
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) {
    // Null when allowed: it is the minimal value, and a mock `next_cursor` must end pagination, not loop it.
    const types = type.map(String);
    return types.includes('null') ? 'null' : types[0];
  }
  if (schema.properties !== undefined || schema.required !== undefined) return 'object';
  if (schema.items !== undefined) return 'array';
  if (typeof schema.pattern === 'string' || typeof schema.format === 'string') return 'string';
  return undefined;
}

function mergeSchemas(a: SchemaObject, b: SchemaObject): SchemaObject {
  const merged: SchemaObject = { ...a, ...b };
  if (isObject(a.properties) || isObject(b.properties)) {
    merged.properties = { ...(isObject(a.properties) ? a.properties : {}), ...(isObject(b.properties) ? b.properties : {}) };
  }
  if (Array.isArray(a.required) || Array.isArray(b.required)) {
    merged.required = [...new Set([...(Array.isArray(a.required) ? a.required : []), ...(Array.isArray(b.required) ? b.required : [])])];
  }
  return merged;
}

function mergeAllOf(spec: OpenApiDocument, schema: SchemaObject): SchemaObject {
  const { allOf, ...rest } = schema;
  let merged: SchemaObject = rest;
  for (const part of allOf as unknown[]) {
    const resolved = derefSchema(spec, part);
    if (!isObject(resolved)) continue;
    merged = mergeSchemas(merged, Array.isArray(resolved.allOf) ? mergeAllOf(spec, resolved) : resolved);
  }
  return merged;
}

function synthesizeNumber(schema: SchemaObject, type: 'integer' | 'number'): number {
  let value = 0;
  if (typeof schema.minimum === 'number') value = schema.minimum;
  if (typeof schema.exclusiveMinimum === 'number') value = type === 'integer' ? Math.floor(schema.exclusiveMinimum) + 1 : schema.exclusiveMinimum + 1;
  if (type === 'integer') value = Math.ceil(value);
  if (typeof schema.multipleOf === 'number' && schema.multipleOf > 0) value = Math.ceil(value / schema.multipleOf) * schema.multipleOf;
  if (typeof schema.maximum === 'number' && value > schema.maximum) value = schema.maximum;
  if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) value = schema.exclusiveMaximum - 1;
  return value;
}

function synthesizeString(schema: SchemaObject): string {
  const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const maxLength = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity;
  if (typeof schema.pattern === 'string') {
    const generated = stringMatching(schema.pattern);
    if (generated !== undefined && generated.length >= minLength && generated.length <= maxLength) return generated;
  }
  if (typeof schema.format === 'string' && schema.format in FORMAT_SAMPLES) return FORMAT_SAMPLES[schema.format]!;
  return 'x'.repeat(Math.min(Math.max(minLength, 1), maxLength));
}

/**
 * The shortest string a simple regular expression accepts (literals, escapes, classes, groups, alternation,
 * quantifiers), or undefined when the pattern uses something else (lookarounds, backreferences).
 */
export function stringMatching(pattern: string): string | undefined {
  let pos = 0;
  const fail = (): never => {
    throw new Error('unsupported pattern');
  };

  const parseAlternation = (): string => {
    const first = parseSequence();
    while (pattern[pos] === '|') {
      pos++;
      parseSequence(); // the first alternative is enough
    }
    return first;
  };

  const parseSequence = (): string => {
    let out = '';
    while (pos < pattern.length && pattern[pos] !== '|' && pattern[pos] !== ')') {
      const atom = parseAtom();
      const { min } = parseQuantifier();
      out += atom.repeat(min);
    }
    return out;
  };

  const parseQuantifier = (): { min: number } => {
    const char = pattern[pos];
    let min = 1;
    if (char === '?' || char === '*') {
      min = 0;
      pos++;
    } else if (char === '+') {
      pos++;
    } else if (char === '{') {
      const match = /^\{(\d+)(,\d*)?\}/.exec(pattern.slice(pos));
      if (!match) return { min };
      min = Number(match[1]);
      pos += match[0].length;
    } else {
      return { min };
    }
    if (pattern[pos] === '?') pos++; // lazy
    return { min };
  };

  const escapeSample = (char: string): string => {
    switch (char) {
      case 'd':
        return '0';
      case 'w':
      case 'D':
      case 'S':
        return 'a';
      case 's':
        return ' ';
      case 'W':
        return '-';
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'u': {
        const hex = /^[0-9a-fA-F]{4}/.exec(pattern.slice(pos));
        if (!hex) return fail();
        pos += 4;
        return String.fromCharCode(parseInt(hex[0], 16));
      }
      default:
        if (/[1-9bBk]/.test(char)) return fail();
        return char;
    }
  };

  const parseClass = (): string => {
    pos++; // [
    const negated = pattern[pos] === '^';
    if (negated) pos++;
    const ranges: Array<[number, number]> = [];
    let first = true;
    while (pos < pattern.length && (pattern[pos] !== ']' || first)) {
      first = false;
      let char = pattern[pos++]!;
      let low: string;
      if (char === '\\') {
        char = pattern[pos++] ?? fail();
        if ('dwsDWS'.includes(char)) {
          const classes: Record<string, Array<[number, number]>> = {
            d: [[48, 57]],
            w: [[97, 122], [65, 90], [48, 57], [95, 95]],
            s: [[32, 32]],
          };
          // Negated shorthands inside classes are rare in ids; sample a letter for them.
          ranges.push(...(classes[char] ?? [[97, 97]]));
          continue;
        }
        low = escapeSample(char);
      } else {
        low = char;
      }
      if (pattern[pos] === '-' && pattern[pos + 1] !== ']' && pos + 1 < pattern.length) {
        pos++;
        let high = pattern[pos++]!;
        if (high === '\\') high = escapeSample(pattern[pos++] ?? fail());
        ranges.push([low.charCodeAt(0), high.charCodeAt(0)]);
      } else {
        ranges.push([low.charCodeAt(0), low.charCodeAt(0)]);
      }
    }
    if (pattern[pos] !== ']') return fail();
    pos++;
    const inSet = (code: number) => ranges.some(([lo, hi]) => code >= lo && code <= hi);
    if (!negated) return ranges.length > 0 ? String.fromCharCode(ranges[0]![0]) : fail();
    const candidate = [...'a0x_-A.'].find((char) => !inSet(char.charCodeAt(0)));
    return candidate ?? fail();
  };

  const parseAtom = (): string => {
    const char = pattern[pos]!;
    switch (char) {
      case '^':
      case '$':
        pos++;
        return '';
      case '.':
        pos++;
        return 'a';
      case '[':
        return parseClass();
      case '(': {
        pos++;
        if (pattern[pos] === '?') {
          if (pattern[pos + 1] === ':') pos += 2;
          else if (pattern[pos + 1] === '<' && pattern[pos + 2] !== '=' && pattern[pos + 2] !== '!') {
            const end = pattern.indexOf('>', pos);
            if (end === -1) return fail();
            pos = end + 1;
          } else return fail();
        }
        const inner = parseAlternation();
        if (pattern[pos] !== ')') return fail();
        pos++;
        return inner;
      }
      case '\\': {
        pos++;
        const escaped = pattern[pos++] ?? fail();
        return escapeSample(escaped);
      }
      default:
        pos++;
        return char;
    }
  };

  try {
    const result = parseAlternation();
    if (pos !== pattern.length) return undefined;
    return new RegExp(pattern, 'u').test(result) ? result : undefined;
  } catch {
    return undefined;
  }
}

/** The example of a media type: `example`, the first of `examples`, the schema's examples, or a synthesized value. */
export function mediaTypeExample(spec: OpenApiDocument, media: MediaTypeObject, pointer = ''): unknown {
  if (media.example !== undefined) return media.example;
  const examples = Object.entries(media.examples ?? {});
  for (const [name, example] of examples) {
    const resolved = deref<ExampleObject>(spec, example as ExampleObject | ReferenceObject, `${pointer}/examples/${escapePointerToken(name)}`).value;
    if (resolved.value !== undefined) return resolved.value;
  }
  if (media.schema === undefined) return undefined;
  return synthesizeFromSchema(spec, media.schema);
}

function headerExample(spec: OpenApiDocument, header: HeaderObject): string {
  let value: unknown = header.example;
  if (value === undefined) {
    const first = Object.values(header.examples ?? {})[0];
    if (first !== undefined) value = isReference(first) ? deref<ExampleObject>(spec, first, '').value.value : first.value;
  }
  if (value === undefined) value = synthesizeFromSchema(spec, header.schema ?? { type: 'string' });
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export interface ExampleResponse {
  status: number;
  /** Undefined when the response has no body (e.g. 204). */
  contentType: string | undefined;
  /** Parsed value for JSON media types, a string otherwise, undefined without a body. */
  body: unknown;
  /** `X-Request-Id` and every header the response requires, with example values. */
  headers: Record<string, string>;
}

export interface ExampleResponseOptions {
  /** A declared status, or `success` (default: the first 2xx the operation declares). */
  status?: number | string;
  /** An Accept header; picks among the declared content types (default: the first declared). */
  accept?: string;
}

function statusNumber(key: string): number {
  if (/^\d{3}$/.test(key)) return Number(key);
  if (/^\dxx$/i.test(key)) return Number(key[0]) * 100;
  return 500; // `default`: used only when asked for explicitly
}

function negotiate(declared: string[], accept: string | undefined): string | undefined {
  if (declared.length === 0) return undefined;
  if (!accept) return declared[0];
  const ranges = accept
    .split(',')
    .map((part, index) => {
      const [range = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
      const q = params.find((param) => param.startsWith('q='));
      return { range, q: q ? Number(q.slice(2)) : 1, index };
    })
    .filter(({ q }) => q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { range } of ranges) {
    const found = declared.find((type) => {
      const lower = type.toLowerCase();
      if (range === '*/*' || range === lower) return true;
      return range.endsWith('/*') && lower.startsWith(range.slice(0, -1));
    });
    if (found) return found;
  }
  return declared[0];
}

/** Builds the example response of an operation: the first 2xx by default, with its content type and headers. */
export function exampleResponse(spec: OpenApiDocument, operation: OperationInfo, options: ExampleResponseOptions = {}): ExampleResponse {
  const responses = operation.operation.responses ?? {};
  const keys = Object.keys(responses);
  let key: string | undefined;
  if (options.status !== undefined && options.status !== 'success') {
    const wanted = String(options.status);
    key = [wanted, `${wanted[0]}XX`, `${wanted[0]}xx`, 'default'].find((candidate) => keys.includes(candidate));
    if (key === undefined) throw new Error(`${operation.operationId} declares no response for status ${wanted}`);
  } else {
    key =
      keys.find((candidate) => /^2(\d\d|xx)$/i.test(candidate)) ??
      keys.find((candidate) => /^[13]\d\d$/.test(candidate)) ??
      keys[0];
    if (key === undefined) throw new Error(`${operation.operationId} declares no responses`);
  }
  const status = options.status !== undefined && options.status !== 'success' && /^\d{3}$/.test(String(options.status))
    ? Number(options.status)
    : statusNumber(key);
  const responsePointer = `${operation.pointer}/responses/${escapePointerToken(key)}`;
  const { value: response, pointer } = deref<ResponseObject>(spec, responses[key]!, responsePointer);

  const headers: Record<string, string> = {};
  for (const [name, declared] of Object.entries(response.headers ?? {})) {
    if (name.toLowerCase() === 'content-type') continue;
    const header = deref<HeaderObject>(spec, declared, `${pointer}/headers/${escapePointerToken(name)}`).value;
    if (header.required || name.toLowerCase() === 'x-request-id') headers[name] = headerExample(spec, header);
  }
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'x-request-id')) headers['X-Request-Id'] = 'req_mock';

  const contentType = negotiate(Object.keys(response.content ?? {}), options.accept);
  if (contentType === undefined) return { status, contentType, body: undefined, headers };
  const media = response.content![contentType]!;
  const example = mediaTypeExample(spec, media, `${pointer}/content/${escapePointerToken(contentType)}`);
  const json = contentType === 'application/json' || contentType.endsWith('+json');
  const body = json ? example : example === undefined ? '' : typeof example === 'string' ? example : JSON.stringify(example);
  return { status, contentType, body, headers };
}
