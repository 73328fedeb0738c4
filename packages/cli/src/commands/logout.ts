// gcorp logout: ends the session on the hub, then forgets the credential here (keychain or file, and the profile).
import { BaseCommand } from '../base-command.js';

export default class Logout extends BaseCommand<typeof Logout> {
  static override summary = 'End the session on the hub and delete the stored credential.';
  static override description = `A login session is revoked on the hub (POST /v1/auth/logout), so its tokens stop working everywhere, then the credential is deleted from the keychain or credentials.json and the profile forgets who was logged in (its server stays). A stored API key is only deleted here: it stays valid until \`gcorp keys revoke\`. When the hub cannot be reached, the credential is still deleted here, with a warning.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --profile work'];

  async run(): Promise<void> {
    const ctx = await this.context();
    const [config, { value: profile }] = await Promise.all([ctx.config(), ctx.profile()]);
    const stored = config.profile(profile);
    if (!stored?.credential) {
      if (this.out.json) this.out.printJson({ profile, server: stored?.server ?? null, logged_out: false, revoked: false });
      else this.out.info(`Profile "${profile}" is not logged in: nothing to do.`);
      this.noteEnvKey();
      return;
    }
    const server = stored.server;
    let revoked = false;
    let revokeError: string | undefined;
    if (stored.credential.kind !== 'api_key') {
      try {
        const gc = await ctx.client({ credential: 'stored' });
        await gc.auth.logout({});
        revoked = true;
      } catch (err) {
        const { describeError } = await import('../lib/errors.js');
        revokeError = describeError(err, { server }).problem.detail;
      }
    }
    const { deleteSecret, describeStorage } = await import('../lib/credentials.js');
    const location = describeStorage(stored.credential.storage, profile);
    const { keychainError } = await deleteSecret(profile);
    config.clearCredential(profile);

    if (revokeError) this.out.warn(`could not end the session on the hub (${revokeError}); it ends by itself when its refresh token expires.`);
    if (keychainError) this.out.warn(`could not delete the credential from the OS keychain (${keychainError}); delete the "gcorp" entry "${profile}" yourself.`);
    if (this.out.json) {
      this.out.printJson({ profile, server, logged_out: true, revoked, deleted_from: location });
    } else {
      const c = this.out.out;
      this.out.print(`${c.green('✓')} Logged out of ${c.cyan(server)} (profile ${profile}).`);
      if (revoked) this.out.print(c.dim('  The session was ended on the hub.'));
      else if (stored.credential.kind === 'api_key') this.out.print(c.dim('  The API key itself still works: revoke it with `gcorp keys revoke <id>` if it should not.'));
      this.out.print(c.dim(`  Deleted the credential from ${location}.`));
    }
    this.noteEnvKey();
  }

  private noteEnvKey(): void {
    if (process.env.GCORP_API_KEY?.trim()) this.out.warn('GCORP_API_KEY is still set in the environment, and gcorp keeps using it.');
  }
}
