-- Every insert into a table with a foreign key to tenants locks the tenant's row (FOR KEY SHARE) until commit. A run
-- wrote about eight such rows (its events, and on the Redis backend its outbox row), so the concurrent transactions of
-- a busy tenant all locked the same row: PostgreSQL records several lockers of a row as a multixact, and each new
-- locker created one and rewrote the row's lock (WAL), the cost of a run's statements rising with the number of runs
-- in flight. Events and outbox rows belong to a run, which belongs to its tenant: their key to the run deletes them
-- with it (and so with the tenant), and the run's row, which their transaction has just written itself, is the one
-- their check locks. Row-level security still confines every row to its tenant.
ALTER TABLE run_events DROP CONSTRAINT run_events_tenant_id_fkey;
ALTER TABLE run_outbox DROP CONSTRAINT run_outbox_tenant_id_fkey;
