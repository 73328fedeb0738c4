// gcorp runs cancel: a queued run is cancelled at once; a running one is stopped by its worker.
import * as Args from '@oclif/core/args';
import { BaseCommand } from '../../base-command.js';
import { colorStatus } from './common.js';

export default class RunsCancel extends BaseCommand<typeof RunsCancel> {
  static override summary = 'Cancel a run.';
  static override description = 'A queued run is cancelled at once; a running one is stopping, and `gcorp runs wait` shows when it has. A run that has already ended answers with exit 1.';
  static override examples = ['<%= config.bin %> <%= command.id %> run_01jdz7r8s9t0v1w2x3y4z5a6b7'];
  static override args = { id: Args.string({ description: 'The run id (run_…).', required: true }) };

  async run(): Promise<void> {
    const gc = await (await this.context()).client();
    const { data: run, response } = await gc.runs.cancel(this.args.id).withResponse();
    if (this.out.json) {
      this.out.printJson(run);
      return;
    }
    const c = this.out.out;
    if (response.status === 202) this.out.print(`${c.yellow('…')} Run ${run.id} is stopping (${colorStatus(c, run.status)}); \`gcorp runs wait ${run.id}\` shows when it has.`);
    else this.out.print(`${c.green('✓')} Run ${run.id} ${colorStatus(c, run.status)}.`);
  }
}
