// gcorp providers remove: deletes the tenant's settings (and key) for a provider; its runs use the instance's again.
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../base-command.js';
import { ExitCode } from '../../lib/exit-codes.js';
import { PROVIDERS } from './common.js';

export default class ProvidersRemove extends BaseCommand<typeof ProvidersRemove> {
  static override summary = "Remove the tenant's own settings for a model provider, its API key included.";
  static override description =
    "The tenant's model runs on this provider use the instance's settings again (or fail with provider_not_configured where it has none). Asks for confirmation on a terminal; pass --yes in scripts (without a terminal it is required). Needs the tenant:admin scope.";
  static override examples = ['<%= config.bin %> <%= command.id %> anthropic', '<%= config.bin %> <%= command.id %> openai_compatible --yes --json'];
  static override args = {
    provider: Args.string({ description: 'The model provider.', required: true, options: [...PROVIDERS] }),
  };
  static override flags = { yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation.' }) };

  async run(): Promise<void> {
    const provider = this.args.provider as (typeof PROVIDERS)[number];
    if (!this.flags.yes) {
      const { confirm } = await import('../../lib/prompt.js');
      if (!(await confirm(this.out, `Remove this tenant's ${provider} settings and API key?`, 'Pass --yes to remove without asking.'))) {
        this.out.info('Nothing removed.');
        this.setExitCode(ExitCode.FAILURE);
        return;
      }
    }
    const gc = await (await this.context()).client();
    await gc.tenant.providers.remove(provider);
    if (this.out.json) this.out.printJson({ provider, removed: true });
    else this.out.print(`${this.out.out.green('✓')} Removed this tenant's ${provider} settings; its runs use the instance's again.`);
  }
}
