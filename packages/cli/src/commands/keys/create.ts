// gcorp keys create: a new API key with the given scopes; its secret is printed once.
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../base-command.js';
import { SCOPES, printNewSecret } from './common.js';

export default class KeysCreate extends BaseCommand<typeof KeysCreate> {
  static override summary = 'Create an API key; its secret is printed once.';
  static override description = `The secret goes alone to stdout (the rest of the message to stderr), so it can be captured: KEY=$(gcorp keys create --name ci --scope runs:write). Needs the keys:manage scope; a key never gets scopes its creator lacks.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> --name ci --scope runs:read --scope runs:write',
    '<%= config.bin %> <%= command.id %> --name nightly --scope runs:write,usage:read --expires 30d',
    '<%= config.bin %> <%= command.id %> --name deploy --scope runs:write --expires 2026-06-30 --json',
  ];
  static override flags = {
    name: Flags.string({ description: 'A name to recognise the key by (1-100 characters).', required: true }),
    scope: Flags.string({
      description: 'A scope the key carries; repeat the flag or separate with commas.',
      required: true,
      multiple: true,
      delimiter: ',',
      options: [...SCOPES],
    }),
    expires: Flags.string({ description: 'When the key stops working: a date (2026-06-30), a date-time, or a duration from now (30d).' }),
  };

  async run(): Promise<void> {
    const { parseFlag, futureTime } = await import('../../lib/validation.js');
    const { z } = await import('zod');
    const name = parseFlag('--name', z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'), this.flags.name);
    const expires = this.flags.expires === undefined ? undefined : parseFlag('--expires', futureTime(), this.flags.expires);
    const gc = await (await this.context()).client();
    const scopes = [...new Set(this.flags.scope)] as (typeof SCOPES)[number][];
    const key = await gc.apiKeys.create({ name, scopes, expires_at: expires ? expires.toISOString() : null });
    printNewSecret(this.out, key, 'Created');
  }
}
