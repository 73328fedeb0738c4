// gcorp runs wait: blocks until a run ends; the exit code says how (for scripts that started it earlier).
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../base-command.js';
import { exitCodeForRunStatus } from '../../lib/exit-codes.js';
import { printRunEnd, printRunOutput, stopWatching, waitForRun, watchInterrupts } from './common.js';

export default class RunsWait extends BaseCommand<typeof RunsWait> {
  static override summary = 'Wait for a run to end and print its output; the exit code says how it ended.';
  static override description = `Exit codes: 0 succeeded, 1 failed or cancelled, 124 timed out or --timeout ran out (the run goes on). A spinner shows on a terminal; elsewhere a status line now and then.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> run_01jdz7r8s9t0v1w2x3y4z5a6b7',
    '<%= config.bin %> <%= command.id %> run_01jdz7r8s9t0v1w2x3y4z5a6b7 --timeout 10m --json',
  ];
  static override args = { id: Args.string({ description: 'The run id (run_…).', required: true }) };
  static override flags = {
    timeout: Flags.string({ char: 't', description: 'Give up after this long (90, 30s, 5m, 1h): exit 124, the run goes on.' }),
  };

  async run(): Promise<void> {
    let deadline: number | undefined;
    if (this.flags.timeout !== undefined) {
      const { parseFlag, duration } = await import('../../lib/validation.js');
      deadline = Date.now() + parseFlag('--timeout', duration, this.flags.timeout);
    }
    const gc = await (await this.context()).client();
    const watch = watchInterrupts();
    try {
      const { run, timedOut } = await waitForRun(gc, this.out, this.args.id, { signal: watch.signal, deadline });
      if (!run) {
        this.setExitCode(await stopWatching(gc, this.out, this.args.id, { cancel: false, reason: timedOut ? 'timeout' : 'interrupted' }));
        return;
      }
      if (this.out.json) this.out.printJson(run);
      else {
        printRunOutput(this.out, run);
        printRunEnd(this.out, run);
      }
      this.setExitCode(exitCodeForRunStatus(run.status));
    } finally {
      watch.dispose();
    }
  }
}
