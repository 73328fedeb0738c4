-- 0003_rate_limits: the counters of the rate limiter (rate-limiter-flexible's RateLimiterPostgres layout, with a
-- bigint count) for hubs without Redis: every server process on this database shares them, so a limit holds across
-- processes.
--
-- A global table (keys name an API key, a session, a tenant, a client address or a hashed account with an address),
-- so no row-level security: the app role reads and writes it directly.
--
-- `expire` is a Unix time in milliseconds set and compared with PostgreSQL's own clock (see http/rate-limit.ts), so
-- server processes whose clocks disagree still share one window. Counters are short-lived and worthless after a
-- crash: UNLOGGED skips the write-ahead log (a crash or a failover empties the table, which only restarts the
-- windows). Rows are rewritten all the time: no index besides the key, so the updates stay HOT, and a lower
-- fillfactor leaves room for them in the same page. Expired rows are deleted by the server every few minutes.
CREATE UNLOGGED TABLE rate_limits (
  key    varchar(255) PRIMARY KEY,
  points bigint NOT NULL DEFAULT 0,
  expire bigint
) WITH (fillfactor = 70);

GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits TO gcorp_app;
