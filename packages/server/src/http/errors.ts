// Maps every failure (domain, validation, parser, unknown) to an RFC 9457 problem; no stack trace ever leaves.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError, type FieldError } from './problem.js';
import type { SpecRouter } from './spec-routes.js';

interface AjvIssue {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

export function sendProblem(reply: FastifyReply, err: ProblemError, req: FastifyRequest): FastifyReply {
  for (const [k, v] of Object.entries(err.extra.headers ?? {})) reply.header(k, v);
  // RFC 9110 15.5.2: every 401 names the scheme to use.
  if (err.status === 401 && !reply.hasHeader('www-authenticate')) reply.header('WWW-Authenticate', 'Bearer');
  return reply
    .code(err.status)
    .type('application/problem+json')
    .send(err.toProblem(String(req.id), req.url.split('?')[0]));
}

function fieldErrors(issues: AjvIssue[], part: string): FieldError[] {
  // openapi.yaml names the locations /body, /query, /path and /headers (Fastify's parts: body, querystring, params, headers).
  const where = part === 'querystring' ? 'query' : part === 'params' ? 'path' : part;
  return issues.map((i) => {
    let pointer = i.instancePath;
    if (i.keyword === 'required') pointer += `/${String(i.params.missingProperty)}`;
    if (i.keyword === 'additionalProperties') pointer += `/${String(i.params.additionalProperty)}`;
    const message =
      i.keyword === 'additionalProperties'
        ? 'is not a known field'
        : i.keyword === 'required'
          ? 'is required'
          : (i.message ?? 'is invalid');
    return { field: `/${where}${pointer}`, message, code: i.keyword };
  });
}

function fromFastifyError(err: FastifyError & { validation?: AjvIssue[]; validationContext?: string }): ProblemError {
  if (err.validation) {
    const errors = fieldErrors(err.validation, err.validationContext ?? 'body');
    const detail = errors.map((e) => `${e.field} ${e.message}`).join('; ');
    return new ProblemError(400, 'validation_failed', `The request is invalid: ${detail}`, { errors });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ProblemError(413, 'payload_too_large', 'The request body is larger than the 1 MiB limit.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ProblemError(415, 'unsupported_media_type', `Content-Type is not supported here: ${err.message}`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ProblemError(400, 'malformed_body', 'The body is empty but Content-Type says application/json.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ProblemError(400, 'malformed_body', 'Content-Length does not match the body.');
  }
  if (err.statusCode === 400 && (err.name === 'SyntaxError' || /JSON/i.test(err.message))) {
    return new ProblemError(400, 'invalid_json', `The body is not valid JSON: ${err.message}`);
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new ProblemError(err.statusCode, 'bad_request', err.message);
  }
  return new ProblemError(500, 'internal_error', 'The server failed to handle this request; it has been logged.');
}

export function installErrorHandling(app: FastifyInstance, router: SpecRouter): void {
  app.setErrorHandler((error: FastifyError, req, reply) => {
    const problem = error instanceof ProblemError ? error : fromFastifyError(error);
    if (problem.status >= 500) req.log.error({ err: error }, 'request failed');
    else req.log.info({ code: problem.code, status: problem.status }, 'request refused');
    req.problemCode = problem.code;
    return sendProblem(reply, problem, req);
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    const allowed = router.allowedMethods(path);
    if (allowed.length > 0) {
      reply.header('Allow', allowed.join(', '));
      req.problemCode = 'method_not_allowed';
      return sendProblem(
        reply,
        new ProblemError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}; use ${allowed.join(', ')}.`),
        req,
      );
    }
    req.problemCode = 'not_found';
    return sendProblem(reply, new ProblemError(404, 'not_found', `No route for ${req.method} ${path}.`), req);
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    problemCode?: string;
  }
}
