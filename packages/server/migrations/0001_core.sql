-- 0001_core: the multi-tenant core: users, tenants, memberships, API keys, sessions, device codes, instance state.
--
-- Runs inside one transaction, as the owner role, after the migrator has ensured the roles gcorp_app (the server's
-- login role: owns nothing, subject to row-level security) and gcorp_definer (NOLOGIN, BYPASSRLS: owns the few
-- SECURITY DEFINER functions that look rows up before the tenant is known).
--
-- Tenant isolation: every table holding a tenant's rows has tenant_id (tenants: id), ENABLE + FORCE row-level
-- security, and one policy comparing it with the transaction's `app.tenant_id` setting, both for the rows a
-- statement sees (USING) and for the rows it writes (WITH CHECK). With no tenant set, the app role sees nothing.

-- On PostgreSQL 14 and older every role may create objects in schema public; the app role must own nothing.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE FUNCTION gcorp_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- Global tables ------------------------------------------------------------------------------------------------

CREATE TABLE users (
  id                text PRIMARY KEY,
  email             text NOT NULL,
  name              text,
  password_hash     text NOT NULL,
  is_instance_admin boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
-- Emails compare case-insensitively: look them up with `lower(email) = lower($1)` to use this index.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE TRIGGER users_touch_updated_at BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION gcorp_touch_updated_at();

CREATE TABLE instance_state (
  id                   integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  bootstrapped_at      timestamptz,
  bootstrap_token_hash text
);
INSERT INTO instance_state (id) VALUES (1);

-- Tenant tables ------------------------------------------------------------------------------------------------

CREATE TABLE tenants (
  id           text PRIMARY KEY,
  name         text NOT NULL,
  plan         text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'business')),
  limits       jsonb NOT NULL DEFAULT '{}',
  suspended_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER tenants_touch_updated_at BEFORE UPDATE ON tenants
  FOR EACH ROW EXECUTE FUNCTION gcorp_touch_updated_at();

CREATE TABLE memberships (
  tenant_id  text NOT NULL REFERENCES tenants ON DELETE CASCADE,
  user_id    text NOT NULL REFERENCES users ON DELETE CASCADE,
  role       text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user_id_idx ON memberships (user_id);

CREATE TABLE api_keys (
  id                 text PRIMARY KEY,
  tenant_id          text NOT NULL REFERENCES tenants ON DELETE CASCADE,
  name               text NOT NULL,
  prefix             text NOT NULL,
  -- sha256 hex of the whole key string (`gc_live_<id>_<secret>`); the key itself is never stored.
  secret_hash        text NOT NULL,
  scopes             text[] NOT NULL,
  created_by_user_id text REFERENCES users ON DELETE SET NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  expires_at         timestamptz,
  last_used_at       timestamptz,
  revoked_at         timestamptz
);
CREATE INDEX api_keys_tenant_id_id_idx ON api_keys (tenant_id, id DESC);

-- A refresh-token family: one per sign-in. Revoking it (logout, or reuse of a spent refresh token) ends them all.
-- It hangs off the membership, so removing a member from a tenant also ends their sessions in it.
CREATE TABLE auth_sessions (
  id             text PRIMARY KEY,
  tenant_id      text NOT NULL,
  user_id        text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  revoked_at     timestamptz,
  revoked_reason text,
  UNIQUE (id, tenant_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX auth_sessions_tenant_id_user_id_idx ON auth_sessions (tenant_id, user_id);

CREATE TABLE refresh_tokens (
  id         text PRIMARY KEY,
  tenant_id  text NOT NULL,
  session_id text NOT NULL,
  token_hash text NOT NULL UNIQUE, -- sha256 hex of the refresh token
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz,
  -- Composite, so a token can only join a session of its own tenant (foreign-key checks ignore row security).
  FOREIGN KEY (session_id, tenant_id) REFERENCES auth_sessions (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id, tenant_id);

-- RFC 8628 device authorization requests: global, since the tenant is only known once a user approves.
CREATE TABLE device_codes (
  device_code_hash text PRIMARY KEY, -- sha256 hex of the device_code
  user_code        text NOT NULL UNIQUE,
  client_id        text NOT NULL,
  scope            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  interval_seconds integer NOT NULL DEFAULT 5 CHECK (interval_seconds > 0),
  last_polled_at   timestamptz,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
  user_id          text REFERENCES users ON DELETE CASCADE,
  tenant_id        text REFERENCES tenants ON DELETE CASCADE
);
CREATE INDEX device_codes_expires_at_idx ON device_codes (expires_at);

-- Row-level security ---------------------------------------------------------------------------------------------

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
  USING (id = current_setting('app.tenant_id', true))
  WITH CHECK (id = current_setting('app.tenant_id', true));

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memberships
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

ALTER TABLE auth_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON auth_sessions
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON refresh_tokens
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

-- Look-ups before the tenant is known (SECURITY DEFINER, owned by gcorp_definer) --------------------------------
-- Parameters are referenced as <function>.<name> because a bare name that matches a column means the column.

-- Authenticating an API key: the key by id, with its tenant's plan and suspension.
CREATE FUNCTION gcorp_api_key_for_auth(key_id text)
RETURNS TABLE (
  id text, tenant_id text, name text, prefix text, secret_hash text, scopes text[], created_by_user_id text,
  created_at timestamptz, expires_at timestamptz, last_used_at timestamptz, revoked_at timestamptz,
  tenant_name text, tenant_plan text, tenant_suspended_at timestamptz, tenant_created_at timestamptz,
  tenant_updated_at timestamptz
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT k.id, k.tenant_id, k.name, k.prefix, k.secret_hash, k.scopes, k.created_by_user_id,
         k.created_at, k.expires_at, k.last_used_at, k.revoked_at,
         t.name, t.plan, t.suspended_at, t.created_at, t.updated_at
    FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
   WHERE k.id = gcorp_api_key_for_auth.key_id
$$;

-- Refreshing: the refresh token by hash, with its session (family).
CREATE FUNCTION gcorp_refresh_token_for_auth(token_hash text)
RETURNS TABLE (
  id text, tenant_id text, session_id text, created_at timestamptz, expires_at timestamptz, used_at timestamptz,
  user_id text, session_created_at timestamptz, session_revoked_at timestamptz, session_revoked_reason text
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT r.id, r.tenant_id, r.session_id, r.created_at, r.expires_at, r.used_at,
         s.user_id, s.created_at, s.revoked_at, s.revoked_reason
    FROM refresh_tokens r JOIN auth_sessions s ON s.id = r.session_id AND s.tenant_id = r.tenant_id
   WHERE r.token_hash = gcorp_refresh_token_for_auth.token_hash
$$;

-- Signing in: the tenants a user belongs to, oldest membership first.
CREATE FUNCTION gcorp_user_memberships(user_id text)
RETURNS TABLE (tenant_id text, role text, tenant_name text, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT m.tenant_id, m.role, t.name, m.created_at
    FROM memberships m JOIN tenants t ON t.id = m.tenant_id
   WHERE m.user_id = gcorp_user_memberships.user_id
   ORDER BY m.created_at, m.tenant_id
$$;

-- Instance admin: tenants in id order (ids are time-sortable: oldest first), those after `after_id` (NULL: from the
-- start), at most `lim`. Callers authorise the instance admin first; writes then run in the tenant's own context.
CREATE FUNCTION gcorp_admin_list_tenants(after_id text, lim integer)
RETURNS SETOF tenants
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT *
    FROM tenants t
   WHERE gcorp_admin_list_tenants.after_id IS NULL OR t.id > gcorp_admin_list_tenants.after_id
   ORDER BY t.id
   LIMIT greatest(gcorp_admin_list_tenants.lim, 0)
$$;

CREATE FUNCTION gcorp_admin_tenant(id text)
RETURNS SETOF tenants
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT * FROM tenants t WHERE t.id = gcorp_admin_tenant.id
$$;

-- Privileges -----------------------------------------------------------------------------------------------------

GRANT USAGE ON SCHEMA public TO gcorp_definer, gcorp_app;
GRANT SELECT ON tenants, memberships, api_keys, auth_sessions, refresh_tokens TO gcorp_definer;

-- A non-superuser may only hand a function to a role that could have created it.
GRANT CREATE ON SCHEMA public TO gcorp_definer;
ALTER FUNCTION gcorp_api_key_for_auth(text) OWNER TO gcorp_definer;
ALTER FUNCTION gcorp_refresh_token_for_auth(text) OWNER TO gcorp_definer;
ALTER FUNCTION gcorp_user_memberships(text) OWNER TO gcorp_definer;
ALTER FUNCTION gcorp_admin_list_tenants(text, integer) OWNER TO gcorp_definer;
ALTER FUNCTION gcorp_admin_tenant(text) OWNER TO gcorp_definer;
REVOKE CREATE ON SCHEMA public FROM gcorp_definer;

REVOKE ALL ON FUNCTION
  gcorp_api_key_for_auth(text), gcorp_refresh_token_for_auth(text), gcorp_user_memberships(text),
  gcorp_admin_list_tenants(text, integer), gcorp_admin_tenant(text)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  gcorp_api_key_for_auth(text), gcorp_refresh_token_for_auth(text), gcorp_user_memberships(text),
  gcorp_admin_list_tenants(text, integer), gcorp_admin_tenant(text)
  TO gcorp_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON
  users, tenants, memberships, api_keys, auth_sessions, refresh_tokens, device_codes
  TO gcorp_app;
GRANT SELECT, UPDATE ON instance_state TO gcorp_app;
