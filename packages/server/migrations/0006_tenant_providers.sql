-- A tenant's own model-provider settings (PUT /v1/tenant/providers/{provider}): each provider a tenant sets replaces
-- the instance's one for its model runs. The API key is AES-256-GCM encrypted with the instance's data key
-- (`api_key_enc`, like webhook signing secrets); only its last four characters are kept in clear, for display.

CREATE TABLE tenant_providers (
  tenant_id      text NOT NULL REFERENCES tenants ON DELETE CASCADE,
  provider       text NOT NULL CHECK (provider IN ('anthropic', 'openai_compatible')),
  api_key_enc    text,
  api_key_last4  text CHECK (api_key_last4 IS NULL OR length(api_key_last4) = 4),
  base_url       text,
  default_model  text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, provider),
  CHECK (api_key_last4 IS NULL OR api_key_enc IS NOT NULL)
);

ALTER TABLE tenant_providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_providers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_providers
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_providers TO gcorp_app;
