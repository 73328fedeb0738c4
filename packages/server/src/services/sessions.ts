// Login sessions: access tokens (JWT, short-lived) and refresh tokens (stored hashed, rotated on use; reuse after a
// short grace period revokes the family).
import type { Database, Queryable } from '../db/database.js';
import { ProblemError, forbidden } from '../http/problem.js';
import { newId, randomToken } from '../ids.js';
import { verifyPassword } from './passwords.js';
import { sessionScopes, type PrincipalResolver, type Role, type Scope } from './principal.js';
import { sha256 } from './secrets.js';

export interface TokenPair {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  scope: string;
}

interface UserAuthRow {
  id: string;
  password_hash: string;
  is_instance_admin: boolean;
}
interface MembershipRow {
  tenant_id: string;
  role: Role;
}

export class SessionService {
  constructor(
    private readonly db: Database,
    private readonly principals: PrincipalResolver,
    /** Seconds; `reuseGrace`: how long after its first use a refresh token may be exchanged again (0: never). */
    private readonly ttl: { access: number; refresh: number; reuseGrace: number },
  ) {}

  /** Email + password -> the user and the tenant they act in (the one asked for, else their first). */
  async authenticate(email: string, password: string, tenantId?: string): Promise<{ userId: string; tenantId: string; role: Role }> {
    const res = await this.db.query<UserAuthRow>(
      'select id, password_hash, is_instance_admin from users where lower(email) = lower($1)',
      [email],
    );
    const user = res.rows[0];
    const ok = await verifyPassword(user?.password_hash ?? null, password);
    if (!user || !ok) throw new ProblemError(401, 'invalid_credentials', 'The email or password is wrong.');
    const memberships = await this.db.query<MembershipRow>('select tenant_id, role from gcorp_user_memberships($1)', [user.id]);
    const chosen = tenantId ? memberships.rows.find((m) => m.tenant_id === tenantId) : memberships.rows[0];
    if (!chosen) {
      throw forbidden(tenantId ? `You are not a member of tenant ${tenantId}.` : 'This account belongs to no tenant.', 'not_a_member');
    }
    return { userId: user.id, tenantId: chosen.tenant_id, role: chosen.role };
  }

  async login(email: string, password: string, tenantId?: string): Promise<TokenPair> {
    const who = await this.authenticate(email, password, tenantId);
    return this.startSession(who.userId, who.tenantId, who.role);
  }

  /** Starts a login session; `scopes` narrows what its tokens may do (never beyond the role), null for the role's. */
  async startSession(userId: string, tenantId: string, role: Role, scopes: readonly Scope[] | null = null): Promise<TokenPair> {
    const sessionId = newId('ses');
    const refresh = await this.db.tenant(tenantId, async (q) => {
      await q.query('insert into auth_sessions (id, tenant_id, user_id, scopes) values ($1, $2, $3, $4)', [
        sessionId,
        tenantId,
        userId,
        scopes,
      ]);
      return this.issueRefresh(q, tenantId, sessionId);
    });
    return this.pair(userId, tenantId, sessionId, refresh, role, scopes);
  }

  private async issueRefresh(q: Queryable, tenantId: string, sessionId: string): Promise<string> {
    const token = `gcr_${randomToken(48)}`;
    await q.query(
      `insert into refresh_tokens (id, tenant_id, session_id, token_hash, expires_at)
       values ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
      [newId('rtk'), tenantId, sessionId, sha256(token), this.ttl.refresh],
    );
    return token;
  }

  private async pair(
    userId: string,
    tenantId: string,
    sessionId: string,
    refresh: string,
    role: Role,
    narrowed: readonly string[] | null,
  ): Promise<TokenPair> {
    const access = await this.principals.signAccessToken({ userId, tenantId, sessionId });
    const admin = await this.db.query<{ is_instance_admin: boolean }>('select is_instance_admin from users where id = $1', [userId]);
    // OAuth's `scope`: what the access token may do, space-separated (RFC 6749 3.3).
    const scope = sessionScopes(role, admin.rows[0]?.is_instance_admin ?? false, narrowed).join(' ');
    return { access_token: access, token_type: 'Bearer', expires_in: this.ttl.access, refresh_token: refresh, scope };
  }

  /**
   * Rotates a refresh token. A token used twice means it leaked: the whole session (family) is revoked. Unless the
   * second use comes within `reuseGrace` seconds of the first: several processes or CLI commands refreshing the same
   * token at once, or a retry after a lost response. That use is exchanged again, for its own new pair in the same
   * session. PostgreSQL decides, on its own clock and under the token's row lock, so two exchanges racing on two
   * connections both get a pair (within the grace) or the later one revokes the session (after it, or with grace 0).
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const res = await this.db.query<{ token_id: string; tenant_id: string; session_id: string; user_id: string; session_revoked_at: Date | null }>(
      'select id as token_id, tenant_id, session_id, user_id, session_revoked_at from gcorp_refresh_token_for_auth($1)',
      [sha256(refreshToken)],
    );
    const row = res.rows[0];
    if (!row) throw invalidGrant('The refresh token is not valid.');
    if (row.session_revoked_at) throw invalidGrant('The session has ended; log in again.');
    const outcome = await this.db.tenant(row.tenant_id, async (q) => {
      // A second use is accepted while used_at (the first use's time) is within the grace. An exchange of the same
      // token racing on another connection holds the row until it commits; PostgreSQL then re-checks this condition
      // on the row as that exchange left it, so the later of the two is judged like any other second use.
      const inGrace = '$2::integer > 0 and used_at > now() - make_interval(secs => $2::integer)';
      const exchanged = await q.query(
        `update refresh_tokens set used_at = coalesce(used_at, now())
          where id = $1 and expires_at > now() and (used_at is null or (${inGrace}))`,
        [row.token_id, this.ttl.reuseGrace],
      );
      if (exchanged.rowCount !== 1) {
        const why = await q.query<{ reused: boolean }>(
          `select used_at is not null and not (${inGrace}) as reused from refresh_tokens where id = $1`,
          [row.token_id, this.ttl.reuseGrace],
        );
        if (!why.rows[0]) return 'unknown' as const;
        return why.rows[0].reused ? ('reused' as const) : ('expired' as const);
      }
      const member = await q.query<{ role: Role; scopes: string[] | null; ended: boolean }>(
        'select m.role, s.scopes, s.revoked_at is not null as ended from memberships m join auth_sessions s on s.id = $2 where m.user_id = $1',
        [row.user_id, row.session_id],
      );
      if (!member.rows[0]) return 'gone' as const;
      // Revoked since the look-up above (a reuse detected on another connection, a logout): no new tokens.
      if (member.rows[0].ended) return 'ended' as const;
      const { role, scopes } = member.rows[0];
      return { token: await this.issueRefresh(q, row.tenant_id, row.session_id), role, scopes };
    });
    if (outcome === 'unknown') throw invalidGrant('The refresh token is not valid.');
    if (outcome === 'reused') {
      await this.revokeSession(row.tenant_id, row.session_id, 'invalid_refresh_token');
      throw invalidGrant('The refresh token was already used, so the session has been revoked; log in again.', 'invalid_refresh_token');
    }
    if (outcome === 'expired') throw invalidGrant('The refresh token has expired; log in again.');
    if (outcome === 'ended') throw invalidGrant('The session has ended; log in again.');
    if (outcome === 'gone') throw invalidGrant('You are no longer a member of this tenant.');
    return this.pair(row.user_id, row.tenant_id, row.session_id, outcome.token, outcome.role, outcome.scopes);
  }

  /** Logout by refresh token (any tenant) or by the session of the calling access token. */
  async logoutByRefreshToken(refreshToken: string): Promise<void> {
    const res = await this.db.query<{ tenant_id: string; session_id: string }>(
      'select tenant_id, session_id from gcorp_refresh_token_for_auth($1)',
      [sha256(refreshToken)],
    );
    const row = res.rows[0];
    if (!row) throw invalidGrant('The refresh token is not valid.');
    await this.revokeSession(row.tenant_id, row.session_id, 'logout');
  }

  async revokeSession(tenantId: string, sessionId: string, reason: string): Promise<void> {
    await this.db.tenant(tenantId, (q) =>
      q.query('update auth_sessions set revoked_at = coalesce(revoked_at, now()), revoked_reason = coalesce(revoked_reason, $2) where id = $1', [sessionId, reason]),
    );
    await this.principals.invalidate(`ses:${sessionId}`);
  }
}

function invalidGrant(detail: string, code = 'invalid_refresh_token'): ProblemError {
  return new ProblemError(401, code, detail);
}
