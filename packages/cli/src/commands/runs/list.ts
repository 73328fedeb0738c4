// gcorp runs list: runs newest first, filtered by status, agent and creation time, a page at a time or --all.
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../base-command.js';
import { collect, pagingFlags, printNextPageHint } from '../../lib/list.js';
import { RUN_STATUSES, printRuns } from './common.js';

export default class RunsList extends BaseCommand<typeof RunsList> {
  static override summary = 'List runs, newest first, with filters.';
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --status failed --since 24h',
    '<%= config.bin %> <%= command.id %> --agent code-reviewer --since 2025-11-01 --until 2025-12-01 --all --json',
  ];
  static override flags = {
    status: Flags.string({ char: 's', description: 'Only runs in this state.', options: [...RUN_STATUSES] }),
    agent: Flags.string({ char: 'a', description: 'Only runs of this agent (name or id).' }),
    since: Flags.string({ description: 'Only runs created at or after: a date, a date-time, or an age (24h, 7d).' }),
    until: Flags.string({ description: 'Only runs created before: a date, a date-time, or an age (1h).' }),
    ...pagingFlags,
  };

  async run(): Promise<void> {
    const { parseFlag, pointInTime } = await import('../../lib/validation.js');
    const since = this.flags.since === undefined ? undefined : parseFlag('--since', pointInTime(), this.flags.since);
    const until = this.flags.until === undefined ? undefined : parseFlag('--until', pointInTime(), this.flags.until);
    const gc = await (await this.context()).client();
    const listed = await collect(
      gc.runs.list({
        limit: this.flags.limit,
        cursor: this.flags.cursor,
        status: this.flags.status as (typeof RUN_STATUSES)[number] | undefined,
        agent: this.flags.agent,
        created_after: since?.toISOString(),
        created_before: until?.toISOString(),
      }),
      this.flags.all,
    );
    if (this.out.json) {
      this.out.printJson(listed);
      return;
    }
    printRuns(this.out, listed.data);
    printNextPageHint(this.out, listed, ['runs', 'list', ...this.argv]);
  }
}
