// Who is calling: verifies API keys and access tokens in a fixed order (format, exists, revoked, expired, tenant),
// with an in-process cache that every process flushes on a PostgreSQL NOTIFY so revocation lands within a second.
import { jwtVerify, SignJWT, errors as joseErrors } from 'jose';
import type { Database } from '../db/database.js';
import { ProblemError } from '../http/problem.js';
import { safeEqual, sha256 } from './secrets.js';
import { apiKeyView } from './views.js';

export const TENANT_SCOPES = [
  'runs:read',
  'runs:write',
  'agents:read',
  'agents:write',
  'keys:manage',
  'usage:read',
  'tenant:admin',
] as const;
export const ALL_SCOPES = [...TENANT_SCOPES, 'instance:admin'] as const;
export type Scope = (typeof ALL_SCOPES)[number];
export type Role = 'owner' | 'admin' | 'member';

export function scopesForRole(role: Role, isInstanceAdmin: boolean): Scope[] {
  const base: Scope[] =
    role === 'member'
      ? ['runs:read', 'runs:write', 'agents:read', 'usage:read']
      : [...TENANT_SCOPES];
  return isInstanceAdmin ? [...base, 'instance:admin'] : base;
}

/** The scopes a session's tokens carry: the role's, narrowed to the session's own list when it has one. */
export function sessionScopes(role: Role, isInstanceAdmin: boolean, narrowed: readonly string[] | null): Scope[] {
  const allowed = scopesForRole(role, isInstanceAdmin);
  return narrowed ? allowed.filter((s) => narrowed.includes(s)) : allowed;
}

/**
 * Parses an OAuth `scope` parameter (space-separated, RFC 6749 3.3). Undefined or empty means "no narrowing" (null);
 * an unknown scope is reported by name.
 */
export function parseScopeParam(scope: string | undefined): { scopes: Scope[] | null; unknown: string[] } {
  const items = [...new Set((scope ?? '').split(' ').filter((s) => s !== ''))];
  if (items.length === 0) return { scopes: null, unknown: [] };
  const known = new Set<string>(ALL_SCOPES);
  return { scopes: items.filter((s): s is Scope => known.has(s)), unknown: items.filter((s) => !known.has(s)) };
}

export interface TenantSnapshot {
  id: string;
  name: string;
  plan: string;
  suspended_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface Principal {
  kind: 'user' | 'api_key';
  tenantId: string;
  tenant: TenantSnapshot;
  userId: string | null;
  apiKeyId: string | null;
  sessionId: string | null;
  role: Role | null;
  scopes: ReadonlySet<string>;
  isInstanceAdmin: boolean;
  /** The key as GET /v1/me shows it, from the verification look-up (last_used_at may lag by the cache lifetime). */
  apiKey: ReturnType<typeof apiKeyView> | null;
}

export const INVALIDATION_CHANNEL = 'gcorp_auth_invalidate';
const KEY_PATTERN = /^gc_live_(key_[0-9a-hjkmnp-tv-z]{26})_([A-Za-z0-9]{32})$/;

interface CachedKey {
  hash: string;
  principal: Principal;
  expiresAt: number | null;
  cachedAt: number;
}
interface CachedSession {
  principal: Principal;
  cachedAt: number;
}

interface KeyRow {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  secret_hash: string;
  scopes: string[];
  expires_at: Date | null;
  revoked_at: Date | null;
  created_by_user_id: string | null;
  tenant_name: string;
  tenant_plan: string;
  tenant_suspended_at: Date | null;
  tenant_created_at: Date;
  tenant_updated_at: Date;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function parseApiKey(token: string): { keyId: string; secret: string } | null {
  const m = KEY_PATTERN.exec(token);
  return m ? { keyId: m[1]!, secret: m[2]! } : null;
}

export interface PrincipalResolverOptions {
  db: Database;
  jwtKey: Uint8Array;
  cacheTtlMs: number;
  issuer: string;
  accessTokenTtlSeconds: number;
  onError?: (err: unknown) => void;
}

export class PrincipalResolver {
  private readonly keys = new Map<string, CachedKey>();
  private readonly sessions = new Map<string, CachedSession>();
  private listening = false;
  private unlisten: (() => Promise<void>) | undefined;
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(private readonly opts: PrincipalResolverOptions) {}

  /** Subscribes to invalidations; until it is connected nothing is cached. */
  async start(): Promise<void> {
    this.unlisten = await this.opts.db.listen(
      INVALIDATION_CHANNEL,
      (payload) => this.invalidateLocal(payload),
      () => this.flush(),
    );
    this.listening = true;
  }

  async stop(): Promise<void> {
    this.listening = false;
    await this.unlisten?.();
  }

  flush(): void {
    this.keys.clear();
    this.sessions.clear();
  }

  /** Tells every process (this one included) to forget a key, a session, or a tenant's cached state. */
  async invalidate(what: `key:${string}` | `ses:${string}` | `tenant:${string}` | 'all'): Promise<void> {
    this.invalidateLocal(what);
    await this.opts.db.notify(INVALIDATION_CHANNEL, what);
  }

  private invalidateLocal(payload: string): void {
    if (payload === 'all') return this.flush();
    const [kind, id] = [payload.slice(0, payload.indexOf(':')), payload.slice(payload.indexOf(':') + 1)];
    if (kind === 'key') this.keys.delete(id);
    else if (kind === 'ses') this.sessions.delete(id);
    else if (kind === 'tenant') {
      for (const [k, v] of this.keys) if (v.principal.tenantId === id) this.keys.delete(k);
      for (const [k, v] of this.sessions) if (v.principal.tenantId === id) this.sessions.delete(k);
    }
  }

  async resolve(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw new ProblemError(401, 'unauthorized', 'Send `Authorization: Bearer <API key or access token>`.', { headers: { 'WWW-Authenticate': 'Bearer' } });
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) throw invalidToken('The Authorization header must be `Bearer <token>`.');
    const token = m[1]!;
    if (token.startsWith('gc_')) return this.verifyApiKey(token);
    return this.verifyAccessToken(token);
  }

  async verifyApiKey(token: string): Promise<Principal> {
    const parsed = parseApiKey(token);
    if (!parsed) throw invalidToken('The API key is malformed; keys look like gc_live_key_<id>_<secret>.');
    const hash = sha256(token);
    const now = Date.now();
    let entry = this.keys.get(parsed.keyId);
    if (!entry || now - entry.cachedAt > this.opts.cacheTtlMs || !this.listening) {
      const row = await this.loadKey(parsed.keyId);
      if (!row) throw invalidToken('The API key is not valid.');
      if (row.revoked_at) throw invalidToken('The API key has been revoked.', 'api_key_revoked');
      entry = {
        hash: row.secret_hash,
        expiresAt: row.expires_at ? row.expires_at.getTime() : null,
        cachedAt: now,
        principal: {
          kind: 'api_key',
          tenantId: row.tenant_id,
          tenant: {
            id: row.tenant_id,
            name: row.tenant_name,
            plan: row.tenant_plan,
            suspended_at: iso(row.tenant_suspended_at),
            created_at: row.tenant_created_at.toISOString(),
            updated_at: row.tenant_updated_at.toISOString(),
          },
          userId: row.created_by_user_id,
          apiKeyId: row.id,
          sessionId: null,
          role: null,
          scopes: new Set(row.scopes),
          isInstanceAdmin: row.scopes.includes('instance:admin'),
          apiKey: apiKeyView(row),
        },
      };
      if (this.listening && this.opts.cacheTtlMs > 0) this.keys.set(parsed.keyId, entry);
    }
    if (!safeEqual(entry.hash, hash)) throw invalidToken('The API key is not valid.');
    if (entry.expiresAt !== null && entry.expiresAt <= now) throw invalidToken('The API key has expired.', 'api_key_expired');
    this.touchKey(entry.principal);
    return entry.principal;
  }

  private async loadKey(keyId: string): Promise<KeyRow | undefined> {
    const res = await this.opts.db.query<KeyRow>('select * from gcorp_api_key_for_auth($1)', [keyId]);
    return res.rows[0];
  }

  /** last_used_at is written at most once a minute per key per process, off the request path. */
  private touchKey(p: Principal): void {
    const now = Date.now();
    const last = this.lastUsedWritten.get(p.apiKeyId!) ?? 0;
    if (now - last < 60_000) return;
    this.lastUsedWritten.set(p.apiKeyId!, now);
    this.opts.db
      .tenant(p.tenantId, (q) => q.query('update api_keys set last_used_at = now() where id = $1', [p.apiKeyId]))
      .catch((err) => this.opts.onError?.(err));
  }

  async signAccessToken(claims: { userId: string; tenantId: string; sessionId: string }): Promise<string> {
    return new SignJWT({ tid: claims.tenantId, sid: claims.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setSubject(claims.userId)
      .setIssuer(this.opts.issuer)
      .setAudience('gcorp-api')
      .setIssuedAt()
      .setExpirationTime(`${this.opts.accessTokenTtlSeconds}s`)
      .sign(this.opts.jwtKey);
  }

  async verifyAccessToken(token: string): Promise<Principal> {
    let payload: { sub?: string; tid?: unknown; sid?: unknown };
    try {
      ({ payload } = await jwtVerify(token, this.opts.jwtKey, {
        algorithms: ['HS256'],
        issuer: this.opts.issuer,
        audience: 'gcorp-api',
        typ: 'at+jwt',
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw invalidToken('The access token has expired; refresh it.', 'token_expired');
      throw invalidToken('The bearer token is neither a valid API key nor a valid access token.');
    }
    const { sub, tid, sid } = payload;
    if (typeof sub !== 'string' || typeof tid !== 'string' || typeof sid !== 'string') throw invalidToken('The access token is malformed.');
    const now = Date.now();
    const cached = this.sessions.get(sid);
    if (cached && now - cached.cachedAt <= this.opts.cacheTtlMs && this.listening) return cached.principal;
    const principal = await this.loadSession(tid, sid, sub);
    if (this.listening && this.opts.cacheTtlMs > 0) this.sessions.set(sid, { principal, cachedAt: now });
    return principal;
  }

  private async loadSession(tenantId: string, sessionId: string, userId: string): Promise<Principal> {
    const row = await this.opts.db.tenant(tenantId, async (q) => {
      const res = await q.query<{
        revoked_at: Date | null;
        scopes: string[] | null;
        role: Role | null;
        is_instance_admin: boolean;
        name: string;
        plan: string;
        suspended_at: Date | null;
        created_at: Date;
        updated_at: Date;
      }>(
        `select s.revoked_at, s.scopes, m.role, u.is_instance_admin, t.name, t.plan, t.suspended_at, t.created_at, t.updated_at
           from auth_sessions s
           join users u on u.id = s.user_id
           join tenants t on t.id = s.tenant_id
           left join memberships m on m.tenant_id = s.tenant_id and m.user_id = s.user_id
          where s.id = $1 and s.user_id = $2`,
        [sessionId, userId],
      );
      return res.rows[0];
    });
    if (!row || row.revoked_at) throw invalidToken('The session has ended; log in again.', 'session_revoked');
    if (!row.role) throw invalidToken('You are no longer a member of this tenant.', 'session_revoked');
    return {
      kind: 'user',
      tenantId,
      tenant: {
        id: tenantId,
        name: row.name,
        plan: row.plan,
        suspended_at: iso(row.suspended_at),
        created_at: row.created_at.toISOString(),
        updated_at: row.updated_at.toISOString(),
      },
      userId,
      apiKeyId: null,
      sessionId,
      role: row.role,
      scopes: new Set(sessionScopes(row.role, row.is_instance_admin, row.scopes)),
      isInstanceAdmin: row.is_instance_admin && (row.scopes === null || row.scopes.includes('instance:admin')),
      apiKey: null,
    };
  }
}

function invalidToken(detail: string, code = 'invalid_token'): ProblemError {
  return new ProblemError(401, code, detail, { headers: { 'WWW-Authenticate': `Bearer error="invalid_token"` } });
}
