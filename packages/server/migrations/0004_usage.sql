-- Usage metering: one append-only record per run (its natural key is the run), hourly and daily rollups kept
-- current in the same transaction, and the per-period admission counter that hard quotas are checked against.

CREATE TABLE usage_records (
  run_id         text PRIMARY KEY,
  tenant_id      text NOT NULL REFERENCES tenants ON DELETE CASCADE,
  agent_name     text NOT NULL,
  api_key_id     text,
  user_id        text,
  status         text NOT NULL,
  runs           integer NOT NULL DEFAULT 1,
  input_tokens   bigint NOT NULL DEFAULT 0,
  output_tokens  bigint NOT NULL DEFAULT 0,
  run_seconds    double precision NOT NULL DEFAULT 0,
  recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_records_tenant_time ON usage_records (tenant_id, recorded_at);

CREATE TABLE usage_rollups (
  tenant_id      text NOT NULL REFERENCES tenants ON DELETE CASCADE,
  granularity    text NOT NULL CHECK (granularity IN ('hour', 'day')),
  dim            text NOT NULL CHECK (dim IN ('all', 'agent', 'api_key')),
  dim_key        text NOT NULL DEFAULT '',
  bucket         timestamptz NOT NULL,
  runs           bigint NOT NULL DEFAULT 0,
  input_tokens   bigint NOT NULL DEFAULT 0,
  output_tokens  bigint NOT NULL DEFAULT 0,
  run_seconds    double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, granularity, dim, dim_key, bucket)
);

CREATE TABLE quota_counters (
  tenant_id      text NOT NULL REFERENCES tenants ON DELETE CASCADE,
  period_start   timestamptz NOT NULL,
  runs_admitted  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, period_start)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['usage_records', 'usage_rollups', 'quota_counters'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
      USING (tenant_id = current_setting('app.tenant_id', true))
      WITH CHECK (tenant_id = current_setting('app.tenant_id', true))$p$, t);
  END LOOP;
END $$;

-- Records are append-only for the hub: it may add and read them, never change or delete them (erasing a tenant
-- removes them through the foreign key).
GRANT SELECT, INSERT ON usage_records TO gcorp_app;
GRANT SELECT, INSERT, UPDATE ON usage_rollups, quota_counters TO gcorp_app;
