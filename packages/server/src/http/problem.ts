// RFC 9457 problem details: the one place domain errors become HTTP answers.
export interface FieldError {
  field: string;
  message: string;
  code?: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  request_id: string;
  instance?: string;
  errors?: FieldError[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

export const PROBLEM_BASE = 'https://docs.genericcorp.dev/problems/';

/** A failure the client can act on; thrown by services and plugins, rendered by the error handler. */
export class ProblemError extends Error {
  override name = 'ProblemError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly extra: { title?: string; errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
  }

  toProblem(requestId: string, instance?: string): Problem {
    return {
      type: PROBLEM_BASE + this.code,
      title: this.extra.title ?? TITLES[this.status] ?? 'Error',
      status: this.status,
      detail: this.detail,
      code: this.code,
      request_id: requestId,
      ...(instance ? { instance } : {}),
      ...(this.extra.errors ? { errors: this.extra.errors } : {}),
    };
  }
}

export const badRequest = (detail: string, errors?: FieldError[], code = 'invalid_request') =>
  new ProblemError(400, code, detail, errors ? { errors } : {});
export const unauthorized = (detail: string, code = 'unauthorized') => new ProblemError(401, code, detail);
export const forbidden = (detail: string, code = 'forbidden') => new ProblemError(403, code, detail);
export const notFound = (what: string, id?: string) =>
  new ProblemError(404, 'not_found', id ? `${what} ${id} does not exist` : `${what} does not exist`);
export const conflict = (detail: string, code = 'conflict') => new ProblemError(409, code, detail);
export const unprocessable = (detail: string, code = 'unprocessable') => new ProblemError(422, code, detail);

export function titleFor(status: number): string {
  return TITLES[status] ?? 'Error';
}
