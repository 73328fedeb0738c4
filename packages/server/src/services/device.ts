// OAuth 2.0 device authorization grant (RFC 8628): codes, polling with slow_down, approval from the /device page.
import { randomInt } from 'node:crypto';
import type { Database } from '../db/database.js';
import { randomToken } from '../ids.js';
import { ALL_SCOPES, parseScopeParam } from './principal.js';
import { sha256 } from './secrets.js';
import type { SessionService, TokenPair } from './sessions.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** Public clients we know; the CLI is the only one today. */
export const PUBLIC_CLIENTS = new Set(['gcorp-cli']);
// RFC 8628 6.1: a short code from a reduced alphabet (no vowels, no look-alikes), typed by a person.
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

export class OAuthError extends Error {
  override name = 'OAuthError';
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

export interface DeviceCodeIssued {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

interface DeviceRow {
  device_code_hash: string;
  client_id: string;
  scope: string | null;
  expires_at: Date;
  interval_seconds: number;
  last_polled_at: Date | null;
  status: 'pending' | 'approved' | 'denied' | 'consumed';
  user_id: string | null;
  tenant_id: string | null;
}

export function normalizeUserCode(input: string): string {
  return input.toUpperCase().replace(/[^A-Z]/g, '');
}

export class DeviceService {
  constructor(
    private readonly db: Database,
    private readonly sessions: SessionService,
    private readonly opts: { ttlSeconds: number; intervalSeconds: number },
  ) {}

  async issue(clientId: string, scope: string | undefined, baseUrl: string): Promise<DeviceCodeIssued> {
    if (!PUBLIC_CLIENTS.has(clientId)) throw new OAuthError('invalid_client', `Unknown client_id ${clientId}.`, 401);
    const parsed = parseScopeParam(scope);
    if (parsed.unknown.length > 0) {
      throw new OAuthError('invalid_scope', `Unknown scope ${parsed.unknown.map((s) => JSON.stringify(s)).join(', ')}; known: ${ALL_SCOPES.join(' ')}.`);
    }
    const normalized = parsed.scopes?.join(' ') ?? null;
    const deviceCode = randomToken(43);
    for (let attempt = 0; ; attempt++) {
      const raw = Array.from({ length: 8 }, () => USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)]).join('');
      try {
        await this.db.query(
          `insert into device_codes (device_code_hash, user_code, client_id, scope, expires_at, interval_seconds, status)
           values ($1, $2, $3, $4, now() + make_interval(secs => $5), $6, 'pending')`,
          [sha256(deviceCode), raw, clientId, normalized, this.opts.ttlSeconds, this.opts.intervalSeconds],
        );
        const userCode = `${raw.slice(0, 4)}-${raw.slice(4)}`;
        const uri = `${baseUrl}/device`;
        return {
          device_code: deviceCode,
          user_code: userCode,
          verification_uri: uri,
          verification_uri_complete: `${uri}?user_code=${userCode}`,
          expires_in: this.opts.ttlSeconds,
          interval: this.opts.intervalSeconds,
        };
      } catch (err) {
        if (attempt < 3 && (err as { code?: string }).code === '23505') continue; // user_code collision
        throw err;
      }
    }
  }

  /** The token endpoint's device_code grant: pending, slow_down, denied, expired or the tokens (once). */
  async exchange(deviceCode: string, clientId: string): Promise<TokenPair> {
    const hash = sha256(deviceCode);
    const res = await this.db.query<DeviceRow & { too_fast: boolean }>(
      `with prev as (select * from device_codes where device_code_hash = $1 for update)
       update device_codes d
          set last_polled_at = now(),
              interval_seconds = case when prev.last_polled_at is not null
                and prev.last_polled_at > now() - make_interval(secs => prev.interval_seconds)
                then prev.interval_seconds + 5 else prev.interval_seconds end
         from prev
        where d.device_code_hash = prev.device_code_hash
      returning d.*, (prev.last_polled_at is not null
                      and prev.last_polled_at > now() - make_interval(secs => prev.interval_seconds)) as too_fast`,
      [hash],
    );
    const row = res.rows[0];
    if (!row) throw new OAuthError('invalid_grant', 'The device code is not valid.');
    if (row.client_id !== clientId) throw new OAuthError('invalid_grant', 'The device code was issued to another client.');
    if (row.expires_at.getTime() <= Date.now()) throw new OAuthError('expired_token', 'The device code has expired; start the login again.');
    if (row.status === 'denied') throw new OAuthError('access_denied', 'The request was denied on the device page.');
    if (row.status === 'consumed') throw new OAuthError('invalid_grant', 'The device code has already been used.');
    if (row.too_fast) throw new OAuthError('slow_down', `Polling too fast; wait ${row.interval_seconds} seconds between requests.`);
    if (row.status === 'pending') throw new OAuthError('authorization_pending', 'The user has not approved the code yet.');
    const consumed = await this.db.query(
      `update device_codes set status = 'consumed' where device_code_hash = $1 and status = 'approved'`,
      [hash],
    );
    if (consumed.rowCount !== 1) throw new OAuthError('invalid_grant', 'The device code has already been used.');
    const membership = await this.db.query<{ tenant_id: string; role: 'owner' | 'admin' | 'member' }>(
      'select tenant_id, role from gcorp_user_memberships($1) where tenant_id = $2',
      [row.user_id, row.tenant_id],
    );
    const m = membership.rows[0];
    if (!m) throw new OAuthError('access_denied', 'The approving user is no longer a member of the tenant.');
    // The scopes asked for at the start narrow the session's tokens; they never widen the approving user's role.
    return this.sessions.startSession(row.user_id!, m.tenant_id, m.role, parseScopeParam(row.scope ?? undefined).scopes);
  }

  /** Looks up a pending, unexpired code for the page. */
  async pending(userCode: string): Promise<boolean> {
    const res = await this.db.query(
      `select 1 from device_codes where user_code = $1 and status = 'pending' and expires_at > now()`,
      [normalizeUserCode(userCode)],
    );
    return res.rowCount === 1;
  }

  /** Approves (or denies) a code on behalf of a person who has just signed in on the page. */
  async decide(userCode: string, decision: 'approve' | 'deny', who: { userId: string; tenantId: string }): Promise<boolean> {
    const res = await this.db.query(
      `update device_codes set status = $2, user_id = $3, tenant_id = $4
        where user_code = $1 and status = 'pending' and expires_at > now()`,
      [normalizeUserCode(userCode), decision === 'approve' ? 'approved' : 'denied', who.userId, who.tenantId],
    );
    return res.rowCount === 1;
  }
}
