// gcorp providers set: the tenant's own settings for a model provider; the API key comes from stdin or an env var.
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../base-command.js';
import { usageError } from '../../lib/errors.js';
import { API_KEY_ENV, PROVIDERS, describeKey } from './common.js';

export default class ProvidersSet extends BaseCommand<typeof ProvidersSet> {
  static override summary = "Set the tenant's own settings for a model provider (API key from stdin or GCORP_PROVIDER_API_KEY).";
  static override description = `From then on the tenant's model runs on this provider use these settings instead of the instance's. The settings are replaced as a whole: --base-url and --default-model left out mean the provider's public API and default model.

The API key is never taken as a flag (it would show in the process list): pass --with-api-key and pipe it on standard input, or set ${API_KEY_ENV}. Without either, the stored key is kept; --clear-api-key removes it. anthropic needs a key; openai_compatible needs --base-url and --default-model. The hub refuses base URLs on private or loopback addresses unless its operator allows them. Needs the tenant:admin scope.`;
  static override examples = [
    {
      description: 'Anthropic with the tenant\'s own key, read from standard input:',
      command: 'printf %s "$ANTHROPIC_KEY" | <%= config.bin %> <%= command.id %> anthropic --with-api-key',
    },
    {
      description: 'The key from the environment, with a default model:',
      command: `${API_KEY_ENV}=sk-ant-… <%= config.bin %> <%= command.id %> anthropic --default-model claude-sonnet-4-5`,
    },
    '<%= config.bin %> <%= command.id %> openai_compatible --base-url https://llm.example.com/v1 --default-model llama-3.1-70b-instruct --json',
  ];
  static override args = {
    provider: Args.string({ description: 'The model provider.', required: true, options: [...PROVIDERS] }),
  };
  static override flags = {
    'base-url': Flags.string({ description: "The provider's API (https), e.g. https://llm.example.com/v1. Default: Anthropic's public API." }),
    'default-model': Flags.string({ description: 'The model of agents that name none. Default: the provider\'s (claude-sonnet-4-5 on Anthropic).' }),
    'with-api-key': Flags.boolean({ description: `Read the API key from standard input (instead of ${API_KEY_ENV}).`, exclusive: ['clear-api-key'] }),
    'clear-api-key': Flags.boolean({ description: 'Remove the stored API key (openai_compatible endpoints that need none).' }),
  };

  async run(): Promise<void> {
    const provider = this.args.provider as (typeof PROVIDERS)[number];
    const apiKey = this.flags['clear-api-key'] ? null : await this.apiKey();
    const baseUrl = this.flags['base-url'];
    if (baseUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(baseUrl)) throw usageError(`--base-url: "${baseUrl}" is not an http(s) URL.`);
    const defaultModel = this.flags['default-model']?.trim();
    if (defaultModel === '') throw usageError('--default-model: must not be empty.');
    const gc = await (await this.context()).client();
    const set = await gc.tenant.providers.set(provider, {
      ...(apiKey !== undefined ? { api_key: apiKey } : {}),
      base_url: baseUrl ?? null,
      default_model: defaultModel ?? null,
    });
    if (this.out.json) {
      this.out.printJson(set);
      return;
    }
    const c = this.out.out;
    this.out.print(`${c.green('✓')} Set ${c.bold(set.provider)} for this tenant: API key ${describeKey(set)}, base URL ${set.base_url ?? 'default'}, default model ${set.default_model ?? 'default'}.`);
  }

  /** The key from stdin (--with-api-key) or the environment; undefined keeps the stored one. */
  private async apiKey(): Promise<string | undefined> {
    let key: string | undefined;
    let from: string;
    if (this.flags['with-api-key']) {
      const { readStdin } = await import('../../lib/stdin.js');
      key = (await readStdin('--with-api-key', '`gcorp providers set anthropic --with-api-key < key.txt`', 64 * 1024)).trim();
      from = '--with-api-key: standard input';
    } else {
      key = process.env[API_KEY_ENV]?.trim();
      if (!key) return undefined;
      from = API_KEY_ENV;
    }
    if (key === '') throw usageError(`${from} was empty: expected the provider's API key.`);
    if (/\s/.test(key)) throw usageError(`${from}: expected one API key, found several words.`);
    return key;
  }
}
