// First-run bootstrap: a one-time token (env, or generated and kept 0600 in the data directory) creates the instance admin.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../db/database.js';
import { ProblemError } from '../http/problem.js';
import { provisionTenant } from './tenants.js';
import { safeEqual, sha256 } from './secrets.js';

export interface BootstrapTokenState {
  bootstrapped: boolean;
  /** Set only when this process generated the token now: print it once. */
  generatedToken?: string;
  tokenFile?: string;
}

/** Makes sure an unbootstrapped instance has a token. The env token always wins; otherwise the first process generates one. */
export async function prepareBootstrapToken(db: Database, opts: { envToken?: string; dataDir: string }): Promise<BootstrapTokenState> {
  const state = await db.query<{ bootstrapped_at: Date | null; bootstrap_token_hash: string | null }>(
    'select bootstrapped_at, bootstrap_token_hash from instance_state where id = 1',
  );
  const row = state.rows[0];
  if (row?.bootstrapped_at) return { bootstrapped: true };
  if (opts.envToken) {
    await db.query('update instance_state set bootstrap_token_hash = $1 where id = 1 and bootstrapped_at is null', [
      sha256(opts.envToken),
    ]);
    return { bootstrapped: false };
  }
  if (row?.bootstrap_token_hash) return { bootstrapped: false, tokenFile: join(opts.dataDir, 'bootstrap-token') };
  const token = `gcb_${randomBytes(24).toString('base64url')}`;
  const won = await db.query(
    // The migration seeds the singleton row; the first process to fill the hash wins, the others read the file.
    `update instance_state set bootstrap_token_hash = $1
      where id = 1 and bootstrap_token_hash is null and bootstrapped_at is null`,
    [sha256(token)],
  );
  if (won.rowCount !== 1) return { bootstrapped: false, tokenFile: join(opts.dataDir, 'bootstrap-token') };
  const file = join(opts.dataDir, 'bootstrap-token');
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  await writeFile(file, token + '\n', { mode: 0o600 });
  await chmod(file, 0o600);
  return { bootstrapped: false, generatedToken: token, tokenFile: file };
}

export interface BootstrapInput {
  bootstrap_token: string;
  admin_email: string;
  admin_password: string;
  tenant_name: string;
}

export async function bootstrapInstance(db: Database, input: BootstrapInput) {
  return db.global(async (q) => {
    const state = await q.query<{ bootstrapped_at: Date | null; bootstrap_token_hash: string | null }>(
      'select bootstrapped_at, bootstrap_token_hash from instance_state where id = 1 for update',
    );
    const row = state.rows[0];
    if (row?.bootstrapped_at) {
      throw new ProblemError(409, 'already_bootstrapped', 'This instance is already bootstrapped; log in or ask the instance admin for a tenant.');
    }
    if (!row?.bootstrap_token_hash || !safeEqual(row.bootstrap_token_hash, sha256(input.bootstrap_token))) {
      throw new ProblemError(403, 'invalid_bootstrap_token', 'The bootstrap token is wrong. Use the one the server printed at first start (also in <data-dir>/bootstrap-token) or GCORP_BOOTSTRAP_TOKEN.');
    }
    const created = await provisionTenant(q, {
      tenantName: input.tenant_name,
      plan: 'business',
      email: input.admin_email,
      password: input.admin_password,
      instanceAdmin: true,
    });
    await q.query('update instance_state set bootstrapped_at = now(), bootstrap_token_hash = null where id = 1');
    return created;
  });
}
