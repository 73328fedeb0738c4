// gcorp agents get: one agent, by name or id, with its input schema.
import * as Args from '@oclif/core/args';
import { BaseCommand } from '../../base-command.js';
import { formatTime } from '../../lib/format.js';

export default class AgentsGet extends BaseCommand<typeof AgentsGet> {
  static override summary = 'Show an agent: kind, runtime, description and the input it accepts.';
  static override examples = ['<%= config.bin %> <%= command.id %> echo', '<%= config.bin %> <%= command.id %> code-reviewer --json'];
  static override args = { agent: Args.string({ description: 'Agent name (echo) or id (agt_…).', required: true }) };

  async run(): Promise<void> {
    const gc = await (await this.context()).client();
    const agent = await gc.agents.get(this.args.agent);
    if (this.out.json) {
      this.out.printJson(agent);
      return;
    }
    const c = this.out.out;
    this.out.print(`${c.bold(agent.name)} ${c.dim(`(${agent.id})`)}`);
    const rows: [string, string][] = [
      ['kind', agent.kind],
      ['runtime', agent.runtime],
      ['updated', formatTime(agent.updated_at)],
    ];
    for (const [label, value] of rows) this.out.print(`  ${c.dim(label.padEnd(8))} ${value}`);
    if (agent.description) this.out.print(`\n${agent.description}`);
    this.out.print(`\n${c.dim('Input schema:')}`);
    this.out.print(agent.input_schema ? JSON.stringify(agent.input_schema, null, 2) : 'any JSON value');
    this.out.print(c.dim(`\nRun it: gcorp run ${agent.name} --input '{…}' --follow`));
  }
}
