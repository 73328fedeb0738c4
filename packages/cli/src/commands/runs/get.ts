// gcorp runs get: one run with its input, output or error, timings and usage.
import * as Args from '@oclif/core/args';
import { BaseCommand } from '../../base-command.js';
import { printRunDetails } from './common.js';

export default class RunsGet extends BaseCommand<typeof RunsGet> {
  static override summary = 'Show a run: state, timings, usage, input and output or error.';
  static override examples = ['<%= config.bin %> <%= command.id %> run_01jdz7r8s9t0v1w2x3y4z5a6b7', '<%= config.bin %> <%= command.id %> run_01jdz7r8s9t0v1w2x3y4z5a6b7 --json'];
  static override args = { id: Args.string({ description: 'The run id (run_…).', required: true }) };

  async run(): Promise<void> {
    const gc = await (await this.context()).client();
    const run = await gc.runs.get(this.args.id);
    if (this.out.json) this.out.printJson(run);
    else printRunDetails(this.out, run);
  }
}
