// gcorp runs logs: a run's events so far, or with --follow as they happen until the run ends (resuming after drops).
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../base-command.js';
import { exitCodeForRunStatus } from '../../lib/exit-codes.js';
import { followEvents, isTerminal, printEventLine, stopWatching, watchInterrupts } from './common.js';

export default class RunsLogs extends BaseCommand<typeof RunsLogs> {
  static override summary = 'Show the events of a run; --follow streams them until the run ends.';
  static override description = `One line per event: time, type, and the text (output deltas, log lines, usage, completion). With --json, one JSON object per line (JSON lines). With --follow, waits for new events and exits with the run's exit code once it ends (0 succeeded, 1 failed or cancelled, 124 timed out); a dropped connection is resumed from the last event received. Ctrl-C stops following and leaves the run going.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> run_01jdz7r8s9t0v1w2x3y4z5a6b7',
    '<%= config.bin %> <%= command.id %> run_01jdz7r8s9t0v1w2x3y4z5a6b7 --follow',
    "<%= config.bin %> <%= command.id %> run_01jdz7r8s9t0v1w2x3y4z5a6b7 --follow --json | jq -r 'select(.type == \"run.log\") | .data.message'",
  ];
  static override args = { id: Args.string({ description: 'The run id (run_…).', required: true }) };
  static override flags = {
    follow: Flags.boolean({ char: 'f', description: 'Keep streaming new events until the run ends.' }),
    after: Flags.integer({ description: 'Only events after this sequence number (resume where you stopped).', min: 0 }),
  };

  async run(): Promise<void> {
    const gc = await (await this.context()).client();
    if (!this.flags.follow) {
      // A finished run's events are read from its event stream, which replays them all and ends: the JSON list of
      // GET /v1/runs/{id}/events currently comes back with every event's `data` emptied by the hub's serializer.
      const run = await gc.runs.get(this.args.id);
      if (isTerminal(run.status)) {
        await followEvents(gc, this.out, run.id, { mode: 'log', lastEventId: this.flags.after, signal: new AbortController().signal });
        return;
      }
      for await (const event of gc.runs.events(this.args.id, { limit: 100, ...(this.flags.after === undefined ? {} : { after: this.flags.after }) })) {
        printEventLine(this.out, event);
      }
      return;
    }
    const watch = watchInterrupts();
    try {
      const completion = await followEvents(gc, this.out, this.args.id, { mode: 'log', lastEventId: this.flags.after, signal: watch.signal });
      if (completion === undefined) this.setExitCode(await stopWatching(gc, this.out, this.args.id, { cancel: false, reason: 'interrupted' }));
      else this.setExitCode(exitCodeForRunStatus(completion.status));
    } finally {
      watch.dispose();
    }
  }
}
