// gcorp agents list: the tenant's catalog (built-in agents, the shipped templates, custom agents).
import { BaseCommand } from '../../base-command.js';
import { collect, pagingFlags, printNextPageHint } from '../../lib/list.js';
import { printAgents } from './common.js';

export default class AgentsList extends BaseCommand<typeof AgentsList> {
  static override summary = 'List the agents you can run.';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --all --json'];
  static override flags = { ...pagingFlags };

  async run(): Promise<void> {
    const gc = await (await this.context()).client();
    const listed = await collect(gc.agents.list({ limit: this.flags.limit, cursor: this.flags.cursor }), this.flags.all);
    if (this.out.json) {
      this.out.printJson(listed);
      return;
    }
    printAgents(this.out, listed.data);
    printNextPageHint(this.out, listed, ['agents', 'list', ...this.argv]);
  }
}
