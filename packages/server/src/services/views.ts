// Database rows to API objects (snake_case, RFC 3339 timestamps), in one place.
const iso = (d: Date | string | null | undefined): string | null =>
  d === null || d === undefined ? null : d instanceof Date ? d.toISOString() : new Date(d).toISOString();

export interface TenantRow {
  id: string;
  name: string;
  plan: string;
  limits: Record<string, number | null>;
  suspended_at: Date | null;
  created_at: Date;
  updated_at: Date;
}
export const tenantView = (t: TenantRow) => ({
  id: t.id,
  name: t.name,
  plan: t.plan,
  status: t.suspended_at ? 'suspended' : 'active',
  created_at: iso(t.created_at)!,
  updated_at: iso(t.updated_at)!,
});
export const LIMIT_NAMES = ['runs_per_period', 'concurrent_runs', 'tokens_per_period', 'requests_per_minute'] as const;
export const adminTenantView = (t: TenantRow) => ({
  ...tenantView(t),
  limits: Object.fromEntries(LIMIT_NAMES.map((n) => [n, t.limits?.[n] ?? null])),
  suspended_at: iso(t.suspended_at),
});

export interface UserRow {
  id: string;
  email: string;
  name: string | null;
  created_at: Date;
}
export const userView = (u: UserRow) => ({ id: u.id, email: u.email, name: u.name, created_at: iso(u.created_at)! });

export interface MemberRow extends UserRow {
  role: string;
  member_since: Date;
}
export const memberView = (m: MemberRow) => ({
  id: m.id,
  email: m.email,
  name: m.name,
  role: m.role,
  created_at: iso(m.member_since)!,
});

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}
export const apiKeyView = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  scopes: k.scopes,
  created_at: iso(k.created_at)!,
  expires_at: iso(k.expires_at),
  last_used_at: iso(k.last_used_at),
  revoked_at: iso(k.revoked_at),
});

export { iso };
