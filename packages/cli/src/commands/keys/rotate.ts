// gcorp keys rotate: a new secret for the key (printed once); the old secret fails at once.
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../base-command.js';
import { usageError } from '../../lib/errors.js';
import { ExitCode } from '../../lib/exit-codes.js';
import { printNewSecret } from './common.js';

export default class KeysRotate extends BaseCommand<typeof KeysRotate> {
  static override summary = 'Give an API key a new secret (printed once); the old one stops working at once.';
  static override description = 'Asks for confirmation on a terminal; pass --yes in scripts (without a terminal it is required).';
  static override examples = ['<%= config.bin %> <%= command.id %> key_01jdz3k9n4p6q8r0s2t4v6w8x0', 'KEY=$(<%= config.bin %> <%= command.id %> key_01jdz3k9n4p6q8r0s2t4v6w8x0 --yes)'];
  static override args = { id: Args.string({ description: 'The key id (key_…).', required: true }) };
  static override flags = { yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation.' }) };

  async run(): Promise<void> {
    if (!/^key_[0-9a-z]+$/.test(this.args.id)) throw usageError(`"${this.args.id}" is not a key id (key_…): \`gcorp keys list\` shows them.`);
    if (!this.flags.yes) {
      const { confirm } = await import('../../lib/prompt.js');
      if (!(await confirm(this.out, `Rotate API key ${this.args.id}? Its current secret stops working at once.`, 'Pass --yes to rotate without asking.'))) {
        this.out.info('Nothing rotated.');
        this.setExitCode(ExitCode.FAILURE);
        return;
      }
    }
    const gc = await (await this.context()).client();
    printNewSecret(this.out, await gc.apiKeys.rotate(this.args.id), 'Rotated');
  }
}
