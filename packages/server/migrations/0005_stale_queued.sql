-- Safety net for the queue: runs still queued long after they were handed to it (a job lost with a Redis that
-- restarted without persistence, say) are offered again by the sweeper. Re-dispatching is a no-op while the job
-- still exists (its id is run id + attempt) and the claim is conditional, so a run never executes twice.
CREATE FUNCTION gcorp_runs_stale_queued(older_than_seconds integer, lim integer)
RETURNS TABLE (run_id text, tenant_id text, attempt integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT r.id, r.tenant_id, r.attempt FROM runs r
   WHERE r.status = 'queued' AND r.created_at < now() - make_interval(secs => older_than_seconds)
     AND NOT EXISTS (SELECT 1 FROM run_outbox o WHERE o.run_id = r.id)
   ORDER BY r.created_at LIMIT lim
$$;

GRANT CREATE ON SCHEMA public TO gcorp_definer;
ALTER FUNCTION gcorp_runs_stale_queued(integer, integer) OWNER TO gcorp_definer;
REVOKE CREATE ON SCHEMA public FROM gcorp_definer;
REVOKE ALL ON FUNCTION gcorp_runs_stale_queued(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gcorp_runs_stale_queued(integer, integer) TO gcorp_app;
