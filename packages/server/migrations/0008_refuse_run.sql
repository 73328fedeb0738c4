-- Admission decides in SQL, inside the run's create transaction, so the transaction can be committed without waiting
-- for the server between the quota check and COMMIT (the tenant's quota counter row stays locked meanwhile). A refusal
-- raises SQLSTATE GQ402 with the quota's name as message and the figures of the refusal as detail (JSON); the server
-- turns it into a 402 quota_exceeded problem and nothing of the run is kept.
CREATE FUNCTION gcorp_refuse_run(quota text, figures jsonb)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'GQ402', MESSAGE = quota, DETAIL = figures::text;
END
$$;
REVOKE ALL ON FUNCTION gcorp_refuse_run(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gcorp_refuse_run(text, jsonb) TO gcorp_app;
