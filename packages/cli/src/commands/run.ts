// gcorp run AGENT: starts a run, and with --wait or --follow stays until it ends; the exit code says how it ended.
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../base-command.js';
import { usageError } from '../lib/errors.js';
import { exitCodeForRunStatus } from '../lib/exit-codes.js';

const MAX_RUN_TIMEOUT_S = 3600;

export default class Run extends BaseCommand<typeof Run> {
  static override summary = 'Run an agent; with --wait or --follow, exit with how the run ended.';
  static override description = `Starts a run of AGENT with --input (JSON, @file or - for stdin; default {}).

Without --wait or --follow, prints the run and exits 0 once the hub has accepted it. With --wait, waits for the end (a spinner on a terminal, a status line now and then elsewhere) and prints the output. With --follow, streams the output as it is produced and the run's events, resuming after dropped connections.

Exit codes: 0 the run succeeded, 1 it failed or was cancelled, 124 it timed out (or --timeout ran out while waiting), 2 bad flags or input, 3 authentication, 4 unknown agent, 5 quota or rate limit. They are the same with --json, where stdout carries the run (--wait) or one JSON line per event then the run (--follow).

Ctrl-C stops waiting and leaves the run going, unless --cancel is given.`;
  static override examples = [
    `<%= config.bin %> <%= command.id %> echo --input '{"message":"hi"}' --wait`,
    '<%= config.bin %> <%= command.id %> code-reviewer --input @diff.json --follow',
    {
      description: 'In CI: input from stdin, JSON result, exit code from the run:',
      command: 'cat issue.json | <%= config.bin %> <%= command.id %> incident-triage --input - --wait --json --timeout 5m',
    },
    '<%= config.bin %> <%= command.id %> triage --input @issue.json --wait --idempotency-key "$CI_JOB_ID" --cancel',
  ];
  static override args = { agent: Args.string({ description: 'Agent name (echo) or id (agt_…).', required: true }) };
  static override flags = {
    input: Flags.string({ char: 'i', description: 'The input: JSON text, @file, or - to read standard input.', default: '{}' }),
    metadata: Flags.string({ char: 'm', description: 'A key=value label on the run (repeatable, at most 16).', multiple: true }),
    wait: Flags.boolean({ char: 'w', description: 'Wait for the run to end and print its output.', exclusive: ['follow'] }),
    follow: Flags.boolean({ char: 'f', description: 'Stream the output and events until the run ends.', exclusive: ['wait'] }),
    timeout: Flags.string({
      char: 't',
      description: 'Stop the run after this long (90, 30s, 5m, 1h; at most 1h); when waiting, also give up then (exit 124).',
    }),
    'idempotency-key': Flags.string({ description: 'Make retries of this command start the run only once (for example the CI job id).' }),
    cancel: Flags.boolean({ description: 'Cancel the run when you stop waiting (Ctrl-C or --timeout) instead of leaving it going.' }),
  };

  async run(): Promise<void> {
    const { parseFlag, duration, keyValuePairs } = await import('../lib/validation.js');
    const { readJsonArgument } = await import('../lib/json-input.js');
    const { z } = await import('zod');
    let timeoutSeconds: number | undefined;
    if (this.flags.timeout !== undefined) {
      const ms = parseFlag('--timeout', duration, this.flags.timeout);
      timeoutSeconds = Math.ceil(ms / 1000);
      if (timeoutSeconds < 1 || timeoutSeconds > MAX_RUN_TIMEOUT_S) throw usageError(`--timeout: must be between 1s and 1h (the hub stops runs after at most ${MAX_RUN_TIMEOUT_S} s).`);
    }
    if (this.flags['idempotency-key'] !== undefined) {
      parseFlag('--idempotency-key', z.string().regex(/^[\x20-\x7e]{1,255}$/, 'must be 1-255 printable ASCII characters'), this.flags['idempotency-key']);
    }
    const metadata = keyValuePairs('--metadata', this.flags.metadata, /^[A-Za-z0-9_.-]{1,40}$/);
    if (metadata && Object.keys(metadata).length > 16) throw usageError('--metadata: at most 16 labels.');
    for (const [key, value] of Object.entries(metadata ?? {})) {
      if (value.length > 500) throw usageError(`--metadata: the value of ${key} is longer than 500 characters.`);
    }
    const input = await readJsonArgument('--input', this.flags.input);

    const gc = await (await this.context()).client();
    const created = await gc.runs.create(
      { agent: this.args.agent, input, ...(metadata ? { metadata } : {}), ...(timeoutSeconds ? { timeout_seconds: timeoutSeconds } : {}) },
      { idempotencyKey: this.flags['idempotency-key'] },
    );
    const common = await import('./runs/common.js');

    if (!this.flags.wait && !this.flags.follow) {
      if (this.out.json) this.out.printJson(created);
      else {
        this.out.print(created.id);
        this.out.info(this.out.err.dim(`Started run ${created.id} of ${created.agent} (${created.status}). Follow it: gcorp runs logs ${created.id} --follow`));
      }
      return;
    }

    // Waiting gives up a little after the run's own timeout: the hub's `timed_out` should be what ends it.
    const deadline = timeoutSeconds === undefined ? undefined : Date.now() + timeoutSeconds * 1000 + 5_000;
    const watch = common.watchInterrupts();
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    try {
      if (this.flags.follow) {
        if (deadline !== undefined) {
          timer = setTimeout(() => {
            timedOut = true;
            watch.stop();
          }, deadline - Date.now());
        }
        if (!this.out.json) this.out.info(this.out.err.dim(`Run ${created.id} of ${created.agent} started; following its output (Ctrl-C stops watching).`));
        const completion = await common.followEvents(gc, this.out, created.id, { mode: 'stream', signal: watch.signal });
        if (completion === undefined) {
          this.setExitCode(await common.stopWatching(gc, this.out, created.id, { cancel: this.flags.cancel, reason: timedOut ? 'timeout' : 'interrupted' }));
          return;
        }
        // The event is the authority on how the run ended; the run adds timings and usage.
        const fetched = await gc.runs.get(created.id);
        const run = common.isTerminal(fetched.status) ? fetched : { ...fetched, status: completion.status, output: completion.output, error: completion.error };
        if (this.out.json) this.out.printJsonLine(run);
        else common.printRunEnd(this.out, run);
        this.setExitCode(exitCodeForRunStatus(run.status));
        return;
      }
      const { run, timedOut: waitTimedOut } = await common.waitForRun(gc, this.out, created.id, { signal: watch.signal, deadline, initial: created });
      if (!run) {
        this.setExitCode(await common.stopWatching(gc, this.out, created.id, { cancel: this.flags.cancel, reason: waitTimedOut ? 'timeout' : 'interrupted' }));
        return;
      }
      if (this.out.json) this.out.printJson(run);
      else {
        common.printRunOutput(this.out, run);
        common.printRunEnd(this.out, run);
      }
      this.setExitCode(exitCodeForRunStatus(run.status));
    } finally {
      clearTimeout(timer);
      watch.dispose();
    }
  }
}
