// Remembering a login: the secret in the keychain (or the file), the profile's server, tenant and who it is in
// config.json, and that profile as the current one.
import type { Me } from '@genericcorp/sdk';
import type { Context } from './context.js';
import type { Secret, Storage } from './credentials.js';

export interface RememberedLogin {
  profile: string;
  server: string;
  storage: Storage;
  location: string;
  principal: string;
}

/** `ada@acme.example` or `key ci (key_…)`. */
export function principalOf(me: Me): string {
  if (me.kind === 'user' && me.user) return me.user.email;
  if (me.api_key) return `key ${me.api_key.name} (${me.api_key.id})`;
  return String(me.kind);
}

export async function rememberLogin(ctx: Context, secret: Secret, me: Me, prefer: 'auto' | 'file'): Promise<RememberedLogin> {
  const [config, { value: profile }, { value: server }, { saveSecret, describeStorage }] = await Promise.all([
    ctx.config(),
    ctx.profile(),
    ctx.server(),
    import('./credentials.js'),
  ]);
  const storage = await saveSecret(profile, secret, { prefer, out: ctx.out, config });
  const principal = principalOf(me);
  config.setProfile(profile, {
    server,
    tenant: { id: me.tenant.id, name: me.tenant.name },
    principal,
    credential: { kind: secret.kind, storage },
  });
  config.setCurrentProfile(profile);
  return { profile, server, storage, location: describeStorage(storage, profile), principal };
}
