-- Runs waiting for a free concurrency slot of their tenant ("parked": a worker took their job while the tenant was at
-- its limit) are told apart from attempts on their way to the queue, so a worker that frees a slot offers the oldest
-- parked run at once, and the post-enqueue clean-up of the outbox leaves a parked row alone.
ALTER TABLE run_outbox ADD COLUMN parked boolean NOT NULL DEFAULT false;
CREATE INDEX run_outbox_parked ON run_outbox (tenant_id, created_at) WHERE parked;
