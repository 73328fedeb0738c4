// The logging shape the database layer writes to: a subset of pino's API, so the server's logger fits as is.

export interface DbLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const ignore = (): void => undefined;

export const silentLogger: DbLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
