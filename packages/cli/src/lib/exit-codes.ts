// The exit codes of every gcorp command (PRODUCT.md, "CLI"), the same in human and --json modes.

export const ExitCode = {
  /** Done; for `run`/`runs wait`: the run succeeded. */
  OK: 0,
  /** Anything else that went wrong; for runs: the run failed or was cancelled. */
  FAILURE: 1,
  /** The command was used wrongly: unknown command or flag, invalid flag value or input file, refused request (400). */
  USAGE: 2,
  /** No credential, an invalid, expired or revoked one, or one without the needed scope (401, 403). */
  AUTH: 3,
  /** The object does not exist in this tenant (404). */
  NOT_FOUND: 4,
  /** A plan quota (402) or the rate limit (429). */
  QUOTA: 5,
  /** The run timed out, or waiting for it ran out of --timeout (as timeout(1)). */
  TIMED_OUT: 124,
  /** Interrupted with Ctrl-C (128 + SIGINT). */
  INTERRUPTED: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code a finished run's status maps to: 0 succeeded, 124 timed out, 1 otherwise. */
export function exitCodeForRunStatus(status: string): number {
  if (status === 'succeeded') return ExitCode.OK;
  if (status === 'timed_out') return ExitCode.TIMED_OUT;
  return ExitCode.FAILURE;
}
