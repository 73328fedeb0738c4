// gcorp keys list: the tenant's API keys (never a secret), revoked and expired ones included.
import { BaseCommand } from '../../base-command.js';
import { collect, pagingFlags, printNextPageHint } from '../../lib/list.js';
import { printKeys } from './common.js';

export default class KeysList extends BaseCommand<typeof KeysList> {
  static override summary = 'List API keys: prefix, scopes, state, last use, expiry.';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --all --json'];
  static override flags = { ...pagingFlags };

  async run(): Promise<void> {
    const gc = await (await this.context()).client();
    const listed = await collect(gc.apiKeys.list({ limit: this.flags.limit, cursor: this.flags.cursor }), this.flags.all);
    if (this.out.json) {
      this.out.printJson(listed);
      return;
    }
    printKeys(this.out, listed.data);
    printNextPageHint(this.out, listed, ['keys', 'list', ...this.argv]);
  }
}
