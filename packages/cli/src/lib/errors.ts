// Errors as users see them: one problem object per failure (the server's, or one made here), a short message that
// says what to do, the exit code PRODUCT.md gives it, and a stack trace only with --debug.
import { ExitCode } from './exit-codes.js';
import type { Output } from './output.js';

const PROBLEM_BASE = 'https://docs.genericcorp.dev/problems/';

/** The RFC 9457 shape every error is reported in with --json (what the hub sends, or the same fields made here). */
export interface ProblemLike {
  type: string;
  title: string;
  status?: number;
  detail: string;
  code: string;
  request_id?: string | null;
  errors?: { field: string; message: string; code?: string }[];
  [extension: string]: unknown;
}

export interface CliErrorOptions {
  exitCode?: number;
  /** snake_case machine code (`usage_error`, `not_logged_in`, ...). */
  code?: string;
  title?: string;
  /** What to do about it, when the message does not already say. */
  hint?: string;
  cause?: unknown;
}

/** An error detected by the CLI itself (bad flag values, no credential, unreadable files, ...). */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  readonly code: string;
  readonly title: string;
  readonly hint: string | undefined;

  constructor(message: string, options: CliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode ?? ExitCode.FAILURE;
    this.code = options.code ?? 'cli_error';
    this.title = options.title ?? 'Error';
    this.hint = options.hint;
  }
}

/** The command was used wrongly (exit 2). */
export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, { exitCode: ExitCode.USAGE, code: 'usage_error', title: 'Usage error', hint });
}

/** No usable credential (exit 3). */
export function authError(message: string, hint?: string, code = 'not_logged_in'): CliError {
  return new CliError(message, { exitCode: ExitCode.AUTH, code, title: 'Not authenticated', hint });
}

interface Described {
  exitCode: number;
  problem: ProblemLike;
  hint?: string | undefined;
}

export interface ReportContext {
  /** The hub the command talked to, for connection hints. */
  server?: string | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function problemOf(code: string, title: string, detail: string, extra: Partial<ProblemLike> = {}): ProblemLike {
  return { type: `${PROBLEM_BASE}${code}`, title, detail, code, ...extra };
}

function exitCodeForStatus(status: number): number {
  if (status === 400) return ExitCode.USAGE;
  if (status === 401 || status === 403) return ExitCode.AUTH;
  if (status === 404) return ExitCode.NOT_FOUND;
  if (status === 402 || status === 429) return ExitCode.QUOTA;
  return ExitCode.FAILURE;
}

function hintForStatus(status: number, code: string | undefined, headers: Record<string, string>): string | undefined {
  if (status === 401) return 'Log in again with `gcorp login`, or check the key in GCORP_API_KEY (`gcorp whoami` shows which credential is in use).';
  if (status === 403) return 'The credential lacks a scope or role this needs: `gcorp whoami` lists its scopes.';
  if (status === 402) return '`gcorp usage` shows the plan quotas; they reset at the start of the next period.';
  if (status === 429) {
    const retryAfter = headers['retry-after'];
    return retryAfter ? `Rate limited: retry in ${retryAfter} s.` : 'Rate limited: retry in a moment.';
  }
  if (status === 409 && code === 'run_finished') return 'The run has already finished.';
  if (status >= 500) return 'The hub failed to answer; quote the request id to its operator.';
  return undefined;
}

const OCLIF_PARSE_ERRORS = new Set([
  'CLIParseError',
  'NonExistentFlagsError',
  'FailedFlagValidationError',
  'RequiredArgsError',
  'UnexpectedArgsError',
  'ArgInvalidOptionError',
  'FlagInvalidOptionError',
]);

/** Turns anything thrown into an exit code and a problem object. */
export function describeError(err: unknown, context: ReportContext = {}): Described {
  if (err instanceof CliError) {
    return { exitCode: err.exitCode, problem: problemOf(err.code, err.title, err.message), hint: err.hint };
  }
  if (!(err instanceof Error)) {
    return { exitCode: ExitCode.FAILURE, problem: problemOf('internal_error', 'Unexpected error', String(err)) };
  }
  const e = err as Error & Record<string, unknown>;
  const server = context.server ? ` at ${context.server}` : '';

  switch (e.name) {
    case 'MissingCredentialsError':
      return {
        exitCode: ExitCode.AUTH,
        problem: problemOf('not_logged_in', 'Not authenticated', `No credential for the hub${server}.`),
        hint: 'Run `gcorp login`, or set GCORP_API_KEY.',
      };
    case 'OAuthError': {
      const code = typeof e.error === 'string' ? e.error : 'oauth_error';
      const description = typeof e.errorDescription === 'string' ? e.errorDescription : e.message;
      const hint =
        code === 'invalid_grant' || code === 'expired_token'
          ? 'Run `gcorp login` again.'
          : code === 'access_denied'
            ? 'The request was denied on the approval page; run `gcorp login` to start again.'
            : undefined;
      return {
        exitCode: ExitCode.AUTH,
        problem: problemOf(code, code.replace(/_/g, ' '), description, typeof e.status === 'number' ? { status: e.status } : {}),
        hint,
      };
    }
    case 'APIConnectionError':
    case 'APIConnectionTimeoutError': {
      const timeout = e.name === 'APIConnectionTimeoutError';
      const cause = describeCause(e.cause);
      return {
        exitCode: ExitCode.FAILURE,
        problem: problemOf(
          timeout ? 'connection_timeout' : 'connection_error',
          timeout ? 'The hub did not answer in time' : 'Could not reach the hub',
          timeout ? `No answer from the hub${server} in time.` : `Could not connect to the hub${server}${cause ? ` (${cause})` : ''}.`,
        ),
        hint: 'Is the hub running there? Choose another with --server or GCORP_SERVER_URL.',
      };
    }
    case 'APIUserAbortError':
      return { exitCode: ExitCode.INTERRUPTED, problem: problemOf('interrupted', 'Interrupted', 'Stopped before the hub answered.') };
    case 'RunWaitTimeoutError':
      return { exitCode: ExitCode.TIMED_OUT, problem: problemOf('wait_timed_out', 'Timed out', e.message) };
    default:
      break;
  }

  if (typeof e.status === 'number' && 'problem' in e) {
    const status = e.status;
    const headers = (isObject(e.headers) ? e.headers : {}) as Record<string, string>;
    const problem = isObject(e.problem) ? (e.problem as ProblemLike) : undefined;
    const code = typeof e.code === 'string' ? e.code : undefined;
    const described: ProblemLike = problem ?? problemOf(code ?? `http_${status}`, `HTTP ${status}`, e.message, { status, request_id: headers['x-request-id'] ?? null });
    return { exitCode: exitCodeForStatus(status), problem: described, hint: hintForStatus(status, code, headers) };
  }
  if (e.name === 'APIResponseParseError' || e.name === 'APIError' || e.name === 'GenericCorpError') {
    return { exitCode: ExitCode.FAILURE, problem: problemOf('unexpected_response', 'Unexpected response from the hub', e.message) };
  }

  // oclif: flag and argument parsing, unknown commands.
  if (OCLIF_PARSE_ERRORS.has(e.name) || 'parse' in e) {
    const message = e.message.replace(/\n?\s*See more help with --help\s*$/, '').trim();
    return { exitCode: ExitCode.USAGE, problem: problemOf('usage_error', 'Usage error', message), hint: 'See `--help` for the flags and arguments.' };
  }
  if (isObject(e.oclif)) {
    const notFound = /^command (.+) not found$/.exec(e.message);
    if (notFound) {
      return {
        exitCode: ExitCode.USAGE,
        problem: problemOf('unknown_command', 'Unknown command', `"${notFound[1]!.replace(/:/g, ' ')}" is not a gcorp command.`),
        hint: 'Run `gcorp --help` for the list of commands.',
      };
    }
    const exit = (e.oclif as { exit?: unknown }).exit;
    return {
      exitCode: typeof exit === 'number' && exit !== 0 ? exit : ExitCode.FAILURE,
      problem: problemOf('cli_error', 'Error', e.message),
    };
  }
  return { exitCode: ExitCode.FAILURE, problem: problemOf('internal_error', 'Unexpected error', e.message || e.name) };
}

function describeCause(cause: unknown): string | undefined {
  for (let current = cause, depth = 0; isObject(current) && depth < 5; depth++) {
    if (typeof current.code === 'string') return current.code;
    current = current.cause;
  }
  return undefined;
}

/** Prints the error the way the mode asks and returns the exit code. */
export function reportError(err: unknown, out: Output, context: ReportContext = {}): number {
  const { exitCode, problem, hint } = describeError(err, context);
  if (out.json) out.printJson(problem);
  const s = out.err;
  // A hub's problem has a title worth showing ("Not Found: ..."); the CLI's own messages say it all in the detail.
  const title =
    typeof problem.status === 'number' && problem.title && !problem.detail.toLowerCase().startsWith(problem.title.toLowerCase()) ? `${problem.title}: ` : '';
  const requestId = problem.request_id ? s.dim(` (request ${problem.request_id})`) : '';
  const lines = [`${s.red(s.bold('Error:'))} ${title}${problem.detail}${requestId}`];
  for (const field of problem.errors ?? []) lines.push(`  ${s.bold(field.field)}: ${field.message}`);
  if (hint) lines.push(s.dim(hint));
  if (out.debug && err instanceof Error) lines.push(s.gray(stackOf(err)));
  process.stderr.write(`${lines.join('\n')}\n`);
  return exitCode;
}

function stackOf(err: Error): string {
  const parts = [err.stack ?? `${err.name}: ${err.message}`];
  for (let cause = err.cause, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    parts.push(`caused by: ${cause.stack ?? cause.message}`);
  }
  return parts.join('\n');
}
