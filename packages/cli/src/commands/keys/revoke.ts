// gcorp keys revoke: the key stops working on every server within a second; it stays listed as revoked.
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../base-command.js';
import { usageError } from '../../lib/errors.js';
import { ExitCode } from '../../lib/exit-codes.js';
import { formatTime } from '../../lib/format.js';

export default class KeysRevoke extends BaseCommand<typeof KeysRevoke> {
  static override summary = 'Revoke an API key: every server refuses it within a second.';
  static override description = 'Asks for confirmation on a terminal; pass --yes in scripts (without a terminal it is required).';
  static override examples = ['<%= config.bin %> <%= command.id %> key_01jdz3k9n4p6q8r0s2t4v6w8x0', '<%= config.bin %> <%= command.id %> key_01jdz3k9n4p6q8r0s2t4v6w8x0 --yes --json'];
  static override args = { id: Args.string({ description: 'The key id (key_…).', required: true }) };
  static override flags = { yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation.' }) };

  async run(): Promise<void> {
    if (!/^key_[0-9a-z]+$/.test(this.args.id)) throw usageError(`"${this.args.id}" is not a key id (key_…): \`gcorp keys list\` shows them.`);
    if (!this.flags.yes) {
      const { confirm } = await import('../../lib/prompt.js');
      if (!(await confirm(this.out, `Revoke API key ${this.args.id}?`, 'Pass --yes to revoke without asking.'))) {
        this.out.info('Nothing revoked.');
        this.setExitCode(ExitCode.FAILURE);
        return;
      }
    }
    const gc = await (await this.context()).client();
    const key = await gc.apiKeys.revoke(this.args.id);
    if (this.out.json) this.out.printJson(key);
    else this.out.print(`${this.out.out.green('✓')} Revoked API key ${key.name} (${key.id}) at ${formatTime(key.revoked_at)}.`);
  }
}
