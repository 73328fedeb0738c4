// Leveled logging for the client, with credentials and secrets redacted before anything is written.

export type LogLevel = 'off' | 'error' | 'warn' | 'info' | 'debug';

/** Anything console-shaped: `console`, pino, winston. */
export interface Logger {
  error(message: string, ...rest: unknown[]): void;
  warn(message: string, ...rest: unknown[]): void;
  info(message: string, ...rest: unknown[]): void;
  debug(message: string, ...rest: unknown[]): void;
}

const LEVELS: Record<LogLevel, number> = { off: 0, error: 1, warn: 2, info: 3, debug: 4 };

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.hasOwn(LEVELS, value);
}

/** A logger that drops messages under its level; `debugEnabled` lets hot paths skip building debug messages. */
export class LeveledLogger {
  readonly debugEnabled: boolean;
  readonly infoEnabled: boolean;
  private readonly threshold: number;

  constructor(
    private readonly sink: Logger,
    readonly level: LogLevel,
  ) {
    this.threshold = LEVELS[level];
    this.debugEnabled = this.threshold >= LEVELS.debug;
    this.infoEnabled = this.threshold >= LEVELS.info;
  }

  error(message: string, ...rest: unknown[]): void {
    if (this.threshold >= LEVELS.error) this.sink.error(`[gcorp] ${message}`, ...rest);
  }
  warn(message: string, ...rest: unknown[]): void {
    if (this.threshold >= LEVELS.warn) this.sink.warn(`[gcorp] ${message}`, ...rest);
  }
  info(message: string, ...rest: unknown[]): void {
    if (this.infoEnabled) this.sink.info(`[gcorp] ${message}`, ...rest);
  }
  debug(message: string, ...rest: unknown[]): void {
    if (this.debugEnabled) this.sink.debug(`[gcorp] ${message}`, ...rest);
  }
}

const REDACTED = '[redacted]';
const SECRET_HEADERS = new Set(['authorization', 'cookie', 'set-cookie', 'proxy-authorization']);
// Body fields that hold credentials: passwords, tokens, API key secrets (`key`), device codes, webhook secrets.
const SECRET_FIELD = /(^|_)(password|secret|token|key|device_code)$/i;

export function redactHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? REDACTED : value;
  }
  return out;
}

/** A copy of a JSON value (or form fields) with every secret-looking field replaced; the id of a key stays visible. */
export function redactBody(value: unknown, depth = 0): unknown {
  if (depth > 20 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactBody(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value as Record<string, unknown>)) {
    out[name] = SECRET_FIELD.test(name) && typeof field === 'string' ? REDACTED : redactBody(field, depth + 1);
  }
  return out;
}
