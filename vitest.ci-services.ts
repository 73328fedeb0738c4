// Global setup of the server test projects: under CI the real PostgreSQL and Redis are required, never the fallback.
// ENGINEERING.md: "CI sets them and fails if they are missing". Without this check a CI machine whose services were
// not exported would quietly run everything on embedded PostgreSQL and in-process queues, and stay green.
export default function requireCiServices(): void {
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  if (!ci) return;
  const missing = ['DATABASE_URL', 'REDIS_URL'].filter((name) => !process.env[name]);
  if (missing.length > 0) {
    throw new Error(
      `CI=true but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set: the server tests must run ` +
        'against the real PostgreSQL and Redis in CI. Export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres ' +
        'and REDIS_URL=redis://127.0.0.1:6379 (bash .ci/run does), or unset CI to allow the embedded fallback.',
    );
  }
}
