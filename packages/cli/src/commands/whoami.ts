// gcorp whoami: who the credential in use is, on which hub, and where that credential lives; exit 3 when invalid.
import { BaseCommand } from '../base-command.js';
import { RESOLUTION_ORDER } from '../lib/help-text.js';

export default class Whoami extends BaseCommand<typeof Whoami> {
  static override summary = 'Show the hub, tenant, user or key, scopes, and where the credential is stored.';
  static override description = `Asks the hub who the credential in use is (GET /v1/me). Exits 3 when there is none, or when the hub refuses it (expired, revoked).

${RESOLUTION_ORDER}`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    {
      description: 'Check a key from the environment against another hub:',
      command: 'GCORP_API_KEY=gc_live_… <%= config.bin %> <%= command.id %> --server https://hub.example.com',
    },
  ];

  async run(): Promise<void> {
    const ctx = await this.context();
    const gc = await ctx.client();
    const me = await gc.me.get();
    const credential = (await ctx.credential())!;
    const { value: server, source: serverSource } = await ctx.server();
    const profile = credential.profile ?? null;
    if (this.out.json) {
      this.out.printJson({ server, server_source: serverSource, profile, credential: credential.info, ...me });
      return;
    }
    const c = this.out.out;
    const who =
      me.kind === 'user' && me.user
        ? `${c.bold(me.user.email)}${me.role ? ` (${me.role})` : ''}`
        : me.api_key
          ? `API key ${c.bold(me.api_key.name)} (${me.api_key.id})`
          : me.kind;
    const kind = { api_key: 'API key', session: 'login session (refreshed automatically)', access_token: 'access token (not refreshed)' }[credential.info.kind];
    this.out.print(`Logged in to ${c.cyan(server)} as ${who}`);
    const rows: [string, string][] = [
      ['tenant', `${me.tenant.name} (${me.tenant.id}) · plan ${me.plan}`],
      ['scopes', me.scopes.join(' ') || '-'],
      ['credential', `${kind}, from ${credential.info.location}`],
    ];
    if (profile) rows.push(['profile', profile]);
    if (me.is_instance_admin) rows.push(['instance', 'instance admin']);
    for (const [label, value] of rows) this.out.print(`  ${c.dim(label.padEnd(11))} ${value}`);
  }
}
