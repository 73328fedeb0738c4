// Runs one agent from a CI job and turns its outcome into the job's: the script gcorp-agent.yml calls.
//
//   node run-agent.mjs AGENT INPUT_FILE
//
// Environment: GCORP_API_KEY (a key with runs:read and runs:write), GCORP_BASE_URL, GCORP_TIMEOUT_SECONDS (default
// 600). On GitHub Actions it also writes the run id and status to $GITHUB_OUTPUT and a summary to $GITHUB_STEP_SUMMARY.
// The run as JSON goes to stdout, messages to stderr. Exit codes follow the gcorp CLI's: 0 succeeded, 1 failed or
// cancelled, 124 timed out, 2 usage error, 3 authentication, 4 not found, 5 quota or rate limit.
import { appendFileSync, readFileSync } from 'node:fs';
import {
  APIError,
  AuthenticationError,
  GenericCorp,
  MissingCredentialsError,
  NotFoundError,
  PermissionDeniedError,
  QuotaExceededError,
  RateLimitError,
  RunWaitTimeoutError,
} from '@genericcorp/sdk';

const EXIT = { succeeded: 0, failed: 1, usage: 2, auth: 3, notFound: 4, quota: 5, timedOut: 124 };

const [agent, inputFile] = process.argv.slice(2);
if (!agent || !inputFile) {
  console.error('usage: node run-agent.mjs AGENT INPUT_FILE');
  process.exit(EXIT.usage);
}
let input;
try {
  input = JSON.parse(readFileSync(inputFile, 'utf8'));
} catch (error) {
  console.error(`cannot read ${inputFile} as JSON: ${error.message}`);
  process.exit(EXIT.usage);
}
const timeoutSeconds = Number(process.env.GCORP_TIMEOUT_SECONDS ?? 600);

// One key per workflow run attempt and job: re-running this step (or a retried request) never starts a second run,
// while "Re-run jobs" (a new attempt) starts a fresh one.
const idempotencyKey = process.env.GITHUB_RUN_ID
  ? `gha-${process.env.GITHUB_REPOSITORY}-${process.env.GITHUB_RUN_ID}-${process.env.GITHUB_RUN_ATTEMPT}-${process.env.GITHUB_JOB}-${agent}`
      .replace(/[^\x20-\x7e]/g, '_')
      .slice(0, 255)
  : undefined;

const metadata = {};
for (const [name, variable] of [['repository', 'GITHUB_REPOSITORY'], ['sha', 'GITHUB_SHA'], ['workflow_run', 'GITHUB_RUN_ID']]) {
  if (process.env[variable]) metadata[name] = process.env[variable].slice(0, 500);
}

function exitCodeFor(error) {
  if (error instanceof RunWaitTimeoutError) return EXIT.timedOut;
  if (error instanceof MissingCredentialsError || error instanceof AuthenticationError || error instanceof PermissionDeniedError) {
    return EXIT.auth;
  }
  if (error instanceof NotFoundError) return EXIT.notFound;
  if (error instanceof QuotaExceededError || error instanceof RateLimitError) return EXIT.quota;
  return EXIT.failed;
}

function report(outputs, summary) {
  if (process.env.GITHUB_OUTPUT) {
    appendFileSync(process.env.GITHUB_OUTPUT, Object.entries(outputs).map(([k, v]) => `${k}=${v}\n`).join(''));
  }
  if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, `${summary}\n`);
}

const gc = new GenericCorp();
try {
  const run = await gc.runs.createAndWait(
    { agent, input, metadata, timeout_seconds: Math.min(3600, Math.max(1, timeoutSeconds)) },
    { idempotencyKey, timeoutMs: timeoutSeconds * 1000 },
  );
  process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
  const seconds = run.usage.run_seconds;
  report(
    { run_id: run.id, status: run.status },
    `### ${agent}: ${run.status}\n\nRun \`${run.id}\` took ${seconds} s` +
      (run.error ? `\n\n> ${run.error.title}: ${run.error.detail} (request ${run.error.request_id})` : ''),
  );
  console.error(`run ${run.id} ${run.status}${run.error ? `: ${run.error.detail}` : ''}`);
  process.exitCode = run.status === 'succeeded' ? EXIT.succeeded : run.status === 'timed_out' ? EXIT.timedOut : EXIT.failed;
} catch (error) {
  process.exitCode = exitCodeFor(error);
  if (error instanceof RunWaitTimeoutError) {
    report({ run_id: error.run.id, status: error.run.status }, `### ${agent}: still ${error.run.status} after ${timeoutSeconds} s`);
  }
  console.error(error instanceof APIError || error instanceof RunWaitTimeoutError || error instanceof MissingCredentialsError ? `${error.name}: ${error.message}` : error);
} finally {
  await gc.close();
}
