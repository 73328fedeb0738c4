// gcorp providers list: the model-provider settings of the tenant (never an API key, only its last characters).
import { BaseCommand } from '../../base-command.js';
import { collect } from '../../lib/list.js';
import { printProviders } from './common.js';

export default class ProvidersList extends BaseCommand<typeof ProvidersList> {
  static override summary = "List the tenant's own model-provider settings: API key (last 4 characters), base URL, default model.";
  static override description =
    "A provider the tenant set replaces the instance's for the tenant's model runs; providers not listed use the instance's settings. API keys are never shown. Needs the tenant:admin scope.";
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];

  async run(): Promise<void> {
    const gc = await (await this.context()).client();
    const listed = await collect(gc.tenant.providers.list({ limit: 100 }), true);
    if (this.out.json) {
      this.out.printJson(listed);
      return;
    }
    printProviders(this.out, listed.data);
  }
}
