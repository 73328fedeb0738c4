// A fetch wrapper for tests: every response it returns has been checked against openapi.yaml.
import { createValidators, isJsonMediaType, mediaTypeOf, type Validators } from './validators.js';
import { loadSpec } from './spec.js';

export interface ContractFetchOptions {
  /** Origin of the server, e.g. `http://127.0.0.1:4100`; call paths are the spec's paths appended to it. */
  baseUrl: string;
  /** Defaults to validators over the package's openapi.yaml. */
  validators?: Validators;
  fetchImpl?: typeof fetch;
  /** Headers sent with every call (a call's own headers win), e.g. `{ authorization: 'Bearer …' }`. */
  headers?: Record<string, string>;
}

export interface ContractCallOptions {
  /** JSON-encoded unless it is a string or bytes, which are sent as they are; content type defaults to application/json. */
  body?: unknown;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string | string[]> | URLSearchParams;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Asserts the response belongs to this operation (otherwise it is found from method and path). */
  operationId?: string;
  /** For text/event-stream responses: return without reading the body; `stream` is then the unread body. */
  stream?: boolean;
}

// The body is typed by the caller (`call<Run>(…)`); the default is `any` because tests read fields of arbitrary
// responses, and the shape has already been checked against the spec at runtime before the value is returned.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- default body type of test responses, see above
export interface ContractResponse<T = any> {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** Parsed JSON for JSON media types (problem+json included), the text otherwise. */
  body: T;
  text: string;
  contentType: string | undefined;
  /** The unread body of an event stream when `stream: true` was asked for. */
  stream?: ReadableStream<Uint8Array> | null;
}

export interface ContractFetch {
  readonly baseUrl: string;
  readonly validators: Validators;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see ContractResponse
  call<T = any>(method: string, path: string, options?: ContractCallOptions): Promise<ContractResponse<T>>;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

export function createContractFetch(options: ContractFetchOptions): ContractFetch {
  const validators = options.validators ?? createValidators(loadSpec());
  const fetchImpl = options.fetchImpl ?? fetch;
  const baseUrl = options.baseUrl.replace(/\/+$/, '');

  const call = async (method: string, path: string, callOptions: ContractCallOptions = {}): Promise<ContractResponse> => {
    const headers: Record<string, string> = { ...options.headers, ...callOptions.headers };
    let body: string | Uint8Array | URLSearchParams | undefined;
    if (callOptions.form !== undefined) {
      const form = callOptions.form instanceof URLSearchParams ? callOptions.form : new URLSearchParams();
      if (!(callOptions.form instanceof URLSearchParams)) {
        for (const [name, value] of Object.entries(callOptions.form)) {
          for (const item of Array.isArray(value) ? value : [value]) form.append(name, item);
        }
      }
      body = form.toString();
      if (!hasHeader(headers, 'content-type')) headers['content-type'] = 'application/x-www-form-urlencoded';
    } else if (callOptions.body !== undefined) {
      const raw = callOptions.body;
      body = typeof raw === 'string' || raw instanceof Uint8Array ? raw : JSON.stringify(raw);
      if (!hasHeader(headers, 'content-type')) headers['content-type'] = 'application/json';
    }

    const response = await fetchImpl(`${baseUrl}${path}`, {
      method: method.toUpperCase(),
      headers,
      body,
      signal: callOptions.signal,
      redirect: 'manual',
    });
    const responseHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      responseHeaders[name.toLowerCase()] = value;
    });
    const contentType = response.headers.get('content-type') ?? undefined;
    const mediaType = mediaTypeOf(contentType);
    const isEventStream = mediaType === 'text/event-stream';

    let text = '';
    let parsed: unknown;
    let stream: ReadableStream<Uint8Array> | null | undefined;
    if (isEventStream && callOptions.stream) {
      stream = response.body;
    } else {
      text = await response.text();
      parsed = text;
      if (mediaType !== undefined && isJsonMediaType(mediaType) && text !== '') {
        try {
          parsed = JSON.parse(text) as unknown;
        } catch {
          parsed = text; // the validator reports the invalid JSON
        }
      }
    }

    if (response.status !== 101) {
      validators.assertResponse({
        operationId: callOptions.operationId,
        method,
        path,
        status: response.status,
        headers: responseHeaders,
        body: isEventStream ? undefined : parsed,
      });
    }
    const result: ContractResponse = { status: response.status, headers: responseHeaders, body: parsed, text, contentType };
    if (stream !== undefined) result.stream = stream;
    return result;
  };

  return { baseUrl, validators, call };
}
