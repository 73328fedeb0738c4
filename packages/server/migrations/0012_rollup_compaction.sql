-- Folds the shards of closed rollup buckets (0011) back into shard 0, so history keeps one row per bucket and reads of
-- it sum one row. A bucket is closed once it ended more than one bucket ago: the finishing runs write the bucket of
-- their own time only. A shard written after all the same (a transaction older than that) is folded by a later call;
-- reads sum whatever shards exist, so they are right before, during and after. One statement: a concurrent reader sees
-- the shards or their sum, never both; concurrent calls each fold only the rows their own DELETE removed.
CREATE FUNCTION gcorp_compact_rollups(lim integer)
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  WITH closed AS (
    SELECT tenant_id, granularity, dim, dim_key, bucket FROM usage_rollups
     WHERE shard <> 0
       AND bucket < date_trunc(granularity, now(), 'UTC') - CASE granularity WHEN 'hour' THEN interval '1 hour' ELSE interval '1 day' END
     GROUP BY 1, 2, 3, 4, 5
     LIMIT lim
  ), moved AS (
    DELETE FROM usage_rollups r USING closed c
     WHERE r.tenant_id = c.tenant_id AND r.granularity = c.granularity AND r.dim = c.dim AND r.dim_key = c.dim_key
       AND r.bucket = c.bucket AND r.shard <> 0
    RETURNING r.tenant_id, r.granularity, r.dim, r.dim_key, r.bucket, r.runs, r.input_tokens, r.output_tokens, r.run_seconds
  ), folded AS (
    INSERT INTO usage_rollups (tenant_id, granularity, dim, dim_key, bucket, shard, runs, input_tokens, output_tokens, run_seconds)
    SELECT tenant_id, granularity, dim, dim_key, bucket, 0, sum(runs), sum(input_tokens), sum(output_tokens), sum(run_seconds)
      FROM moved GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (tenant_id, granularity, dim, dim_key, bucket, shard) DO UPDATE SET
      runs = usage_rollups.runs + excluded.runs,
      input_tokens = usage_rollups.input_tokens + excluded.input_tokens,
      output_tokens = usage_rollups.output_tokens + excluded.output_tokens,
      run_seconds = usage_rollups.run_seconds + excluded.run_seconds
    RETURNING 1
  )
  SELECT count(*)::integer FROM folded
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON usage_rollups TO gcorp_definer;
GRANT CREATE ON SCHEMA public TO gcorp_definer;
ALTER FUNCTION gcorp_compact_rollups(integer) OWNER TO gcorp_definer;
REVOKE CREATE ON SCHEMA public FROM gcorp_definer;
REVOKE ALL ON FUNCTION gcorp_compact_rollups(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gcorp_compact_rollups(integer) TO gcorp_app;
