// API keys: `gc_live_<id>_<secret>`, only the SHA-256 of the whole key is stored; the secret is shown once.
import type { Queryable } from '../db/database.js';
import { badRequest, forbidden, notFound, conflict } from '../http/problem.js';
import { newId, randomToken } from '../ids.js';
import { ALL_SCOPES, type Principal } from './principal.js';
import { sha256 } from './secrets.js';
import { apiKeyView, type ApiKeyRow } from './views.js';

export interface NewApiKey {
  name: string;
  scopes: string[];
  expiresAt?: string | null;
  createdByUserId: string | null;
}

const COLUMNS = 'id, tenant_id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at';

export function mintKey(id = newId('key')): { id: string; key: string; prefix: string; hash: string } {
  const secret = randomToken(32);
  const key = `gc_live_${id}_${secret}`;
  return { id, key, prefix: `gc_live_${id}_${secret.slice(0, 4)}`, hash: sha256(key) };
}

/** Inserts a key inside the caller's tenant transaction; returns the API object with the one-time secret. */
export async function insertApiKey(q: Queryable, tenantId: string, input: NewApiKey) {
  const minted = mintKey();
  const res = await q.query<ApiKeyRow>(
    `insert into api_keys (id, tenant_id, name, prefix, secret_hash, scopes, created_by_user_id, expires_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8) returning ${COLUMNS}`,
    [minted.id, tenantId, input.name, minted.prefix, minted.hash, input.scopes, input.createdByUserId, input.expiresAt ?? null],
  );
  return { ...apiKeyView(res.rows[0]!), key: minted.key };
}

/** A credential can hand out only the scopes it holds itself. */
export function checkGrantable(principal: Principal, scopes: string[]): void {
  const unknown = scopes.filter((s) => !(ALL_SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) throw badRequest(`Unknown scope ${unknown.join(', ')}.`, [{ field: '/body/scopes', message: `unknown scope ${unknown.join(', ')}` }]);
  const beyond = scopes.filter((s) => !principal.scopes.has(s));
  if (beyond.length > 0) throw forbidden(`You cannot grant ${beyond.join(', ')}: your own credential does not carry it.`, 'scope_not_grantable');
}

export function checkExpiry(expiresAt: string | null | undefined): void {
  if (expiresAt && new Date(expiresAt).getTime() <= Date.now()) {
    throw badRequest('expires_at must be in the future.', [{ field: '/body/expires_at', message: 'must be in the future' }]);
  }
}

export async function listApiKeys(q: Queryable, after: string | null, limit: number) {
  const res = await q.query<ApiKeyRow>(
    `select ${COLUMNS} from api_keys where ($1::text is null or id < $1) order by id desc limit $2`,
    [after, limit + 1],
  );
  return res.rows.map(apiKeyView);
}

export async function getApiKey(q: Queryable, id: string) {
  const res = await q.query<ApiKeyRow>(`select ${COLUMNS} from api_keys where id = $1`, [id]);
  if (!res.rows[0]) throw notFound('API key', id);
  return apiKeyView(res.rows[0]);
}

export async function revokeApiKey(q: Queryable, id: string) {
  const res = await q.query<ApiKeyRow>(
    `update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1 returning ${COLUMNS}`,
    [id],
  );
  if (!res.rows[0]) throw notFound('API key', id);
  return apiKeyView(res.rows[0]);
}

/** Rotation keeps the key's id, name and scopes and replaces its secret: the old secret stops working at once. */
export async function rotateApiKey(q: Queryable, id: string) {
  const minted = mintKey(id);
  const res = await q.query<ApiKeyRow>(
    `update api_keys set secret_hash = $2, prefix = $3
      where id = $1 and revoked_at is null and (expires_at is null or expires_at > now())
      returning ${COLUMNS}`,
    [id, minted.hash, minted.prefix],
  );
  if (!res.rows[0]) {
    const existing = await getApiKey(q, id); // 404 when it does not exist
    const why = existing.revoked_at ? 'revoked' : 'expired';
    throw conflict(`API key ${id} is ${why}; create a new key instead.`, 'api_key_inactive');
  }
  return { ...apiKeyView(res.rows[0]), key: minted.key };
}

export { ALL_SCOPES };
