-- Every finishing run of a tenant adds itself to the same six rollup rows (hour and day; all, agent, API key). With one
-- row per bucket, concurrent finishes of one tenant waited for each other's row locks until commit, one at a time.
-- Writers now spread over a few shards of each bucket (a process takes them in turn) and readers sum the shards.
ALTER TABLE usage_rollups ADD COLUMN shard smallint NOT NULL DEFAULT 0 CHECK (shard >= 0 AND shard < 64);
ALTER TABLE usage_rollups DROP CONSTRAINT usage_rollups_pkey;
ALTER TABLE usage_rollups ADD PRIMARY KEY (tenant_id, granularity, dim, dim_key, bucket, shard);

-- The same for the period counter of admitted runs: every create of a tenant counted itself up on one row. Admission
-- now holds an advisory lock of the tenant instead (shared far from the limits, exclusive near them) and sums the
-- shards.
ALTER TABLE quota_counters ADD COLUMN shard smallint NOT NULL DEFAULT 0 CHECK (shard >= 0 AND shard < 64);
ALTER TABLE quota_counters DROP CONSTRAINT quota_counters_pkey;
ALTER TABLE quota_counters ADD PRIMARY KEY (tenant_id, period_start, shard);
