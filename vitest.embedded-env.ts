// Setup file of the server-embedded test project: removes the database and Redis URLs from this test process before
// the test file is imported, so the server's configuration sees none and runs on its defaults: embedded PostgreSQL
// and BullMQ's PostgreSQL backend (what `npm start` does). The server-pg project covers PostgreSQL + Redis.
for (const name of ['DATABASE_URL', 'DATABASE_APP_URL', 'REDIS_URL']) {
  delete process.env[name];
}
