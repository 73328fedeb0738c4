-- Agent runs: custom agents, runs with their lease and attempts, per-run events, the enqueue outbox and
-- Idempotency-Key records. Every table is tenant data under forced row-level security.

CREATE TABLE agents (
  id            text PRIMARY KEY,
  tenant_id     text NOT NULL REFERENCES tenants ON DELETE CASCADE,
  name          text NOT NULL,
  description   text NOT NULL DEFAULT '',
  runtime       text NOT NULL CHECK (runtime IN ('model', 'webhook')),
  input_schema  jsonb,
  -- Public config (model, prompt, url...). Webhook signing secrets live in `secret_enc`, AES-256-GCM encrypted.
  config        jsonb NOT NULL DEFAULT '{}',
  secret_enc    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

CREATE TABLE runs (
  id                  text PRIMARY KEY,
  tenant_id           text NOT NULL REFERENCES tenants ON DELETE CASCADE,
  agent_id            text NOT NULL,
  agent_name          text NOT NULL,
  status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')),
  input               jsonb,
  output              jsonb,
  error               jsonb,
  metadata            jsonb NOT NULL DEFAULT '{}',
  timeout_seconds     integer NOT NULL,
  attempt             integer NOT NULL DEFAULT 1,
  max_attempts        integer NOT NULL DEFAULT 3,
  created_by_key_id   text,
  created_by_user_id  text,
  request_id          text,
  input_tokens        bigint NOT NULL DEFAULT 0,
  output_tokens       bigint NOT NULL DEFAULT 0,
  run_seconds         double precision NOT NULL DEFAULT 0,
  last_seq            integer NOT NULL DEFAULT 0,
  -- The worker executing the run holds it until lease_until; a lapsed lease means the worker is gone.
  worker_id           text,
  lease_until         timestamptz,
  cancel_requested_at timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  started_at          timestamptz,
  finished_at         timestamptz
);
CREATE INDEX runs_tenant_list ON runs (tenant_id, id DESC);
CREATE INDEX runs_tenant_status ON runs (tenant_id, status, id DESC);
CREATE INDEX runs_lease ON runs (lease_until) WHERE status = 'running';
CREATE INDEX runs_queued ON runs (created_at) WHERE status = 'queued';

CREATE TABLE run_events (
  id          text NOT NULL UNIQUE,
  tenant_id   text NOT NULL REFERENCES tenants ON DELETE CASCADE,
  run_id      text NOT NULL REFERENCES runs ON DELETE CASCADE,
  seq         integer NOT NULL,
  type        text NOT NULL,
  data        jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, seq)
);

-- A run waiting to be handed to the queue. Written in the run's transaction, deleted once the queue has it.
CREATE TABLE run_outbox (
  run_id      text PRIMARY KEY REFERENCES runs ON DELETE CASCADE,
  tenant_id   text NOT NULL REFERENCES tenants ON DELETE CASCADE,
  attempt     integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE idempotency_keys (
  tenant_id         text NOT NULL REFERENCES tenants ON DELETE CASCADE,
  operation         text NOT NULL,
  key               text NOT NULL,
  fingerprint       text NOT NULL,
  state             text NOT NULL CHECK (state IN ('in_flight', 'done')),
  response_status   integer,
  response_body     text,
  response_headers  jsonb,
  locked_until      timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  expires_at        timestamptz NOT NULL DEFAULT now() + interval '24 hours',
  PRIMARY KEY (tenant_id, operation, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['agents', 'runs', 'run_events', 'run_outbox', 'idempotency_keys'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
      USING (tenant_id = current_setting('app.tenant_id', true))
      WITH CHECK (tenant_id = current_setting('app.tenant_id', true))$p$, t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO gcorp_app', t);
  END LOOP;
END $$;

GRANT SELECT, UPDATE, DELETE ON runs, run_outbox, idempotency_keys TO gcorp_definer;

-- Housekeeping across tenants (outbox relay, lapsed leases, timeouts, expired idempotency keys): these see ids only,
-- and the work on each run happens afterwards in that tenant's own RLS-scoped transaction.
CREATE FUNCTION gcorp_outbox_due(older_than_ms integer, lim integer)
RETURNS TABLE (run_id text, tenant_id text, attempt integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT o.run_id, o.tenant_id, o.attempt FROM run_outbox o
   WHERE o.created_at < now() - make_interval(secs => older_than_ms / 1000.0)
   ORDER BY o.created_at LIMIT lim
$$;

CREATE FUNCTION gcorp_runs_lapsed(lim integer)
RETURNS TABLE (run_id text, tenant_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT r.id, r.tenant_id FROM runs r
   WHERE r.status = 'running'
     AND (r.lease_until < now() OR r.started_at + make_interval(secs => r.timeout_seconds + 30) < now())
   ORDER BY r.lease_until LIMIT lim
$$;

CREATE FUNCTION gcorp_expire_idempotency_keys()
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  WITH gone AS (DELETE FROM idempotency_keys WHERE expires_at < now() RETURNING 1) SELECT count(*)::integer FROM gone
$$;

-- A non-superuser may only hand a function to a role that could have created it (as in 0001).
GRANT CREATE ON SCHEMA public TO gcorp_definer;
ALTER FUNCTION gcorp_outbox_due(integer, integer) OWNER TO gcorp_definer;
ALTER FUNCTION gcorp_runs_lapsed(integer) OWNER TO gcorp_definer;
ALTER FUNCTION gcorp_expire_idempotency_keys() OWNER TO gcorp_definer;
REVOKE CREATE ON SCHEMA public FROM gcorp_definer;
REVOKE ALL ON FUNCTION gcorp_outbox_due(integer, integer), gcorp_runs_lapsed(integer), gcorp_expire_idempotency_keys() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gcorp_outbox_due(integer, integer), gcorp_runs_lapsed(integer), gcorp_expire_idempotency_keys() TO gcorp_app;
