// One `vitest run` at the root runs every package's tests, split into projects so that one can be run alone:
// `npx vitest run --project contract`, `--project server-pg`, `--project server-embedded`.
import { defineConfig } from 'vitest/config';

const SERVER_TESTS = ['packages/server/test/**/*.test.ts'];

// The server-embedded project runs the server's integration tests a second time with DATABASE_URL removed, so the
// embedded PostgreSQL path (the `npm start` default) is exercised by the same suite. Each file there starts its own
// PostgreSQL child process, which costs seconds: to keep CI time down, narrow this list (globs relative to the
// repository root), or set GCORP_EMBEDDED_TESTS to a comma-separated list of globs for one run.
const EMBEDDED_SERVER_TESTS = process.env.GCORP_EMBEDDED_TESTS
  ? process.env.GCORP_EMBEDDED_TESTS.split(',').map((glob) => glob.trim()).filter(Boolean)
  : SERVER_TESTS;

const isCI = process.env.CI === 'true' || process.env.CI === '1';

export default defineConfig({
  test: {
    // Every server test file creates its own database, so files are independent and can run side by side. The
    // machines (a developer's and CI's) have 2 cores and PostgreSQL runs on the same machine: two test processes at
    // a time keep both cores busy without starving the database.
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    restoreMocks: true,
    unstubEnvs: true,
    unstubGlobals: true,
    // CI also writes a JSON report, from which .ci/run prints a one-line "N passed, N failed" summary.
    reporters: isCI ? ['default', ['json', { outputFile: 'test-artifacts/vitest.json' }]] : ['default'],
    // Only packages that have tests are listed: sdk and cli join when they get a test folder.
    projects: [
      {
        extends: true,
        test: {
          name: 'contract',
          include: ['packages/contract/test/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'server-pg',
          include: SERVER_TESTS,
          // DATABASE_URL and REDIS_URL are used as given (trust auth on 127.0.0.1 here and in CI). Under CI=true the
          // global setup refuses to start without them rather than fall back to embedded PostgreSQL silently.
          globalSetup: ['vitest.ci-services.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'server-embedded',
          include: EMBEDDED_SERVER_TESTS,
          globalSetup: ['vitest.ci-services.ts'],
          // Vitest's `env` option can only set variables, not remove them, so a setup file (run in each test process
          // before the test file is imported, hence before the server reads its configuration) deletes DATABASE_URL
          // and the app-role URL derived from it, and REDIS_URL, so runs travel on BullMQ's PostgreSQL backend here.
          setupFiles: ['vitest.embedded-env.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'sdk',
          include: ['packages/sdk/test/**/*.test.ts'],
          // CI's real PostgreSQL for the integration tests (as the server projects), and a current build of the SDK
          // for the tests that run the packed package and the examples.
          globalSetup: ['vitest.ci-services.ts', 'packages/sdk/test/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'cli',
          include: ['packages/cli/test/**/*.test.ts'],
          // The commands run as child processes of the built CLI, against mocks from the spec and against the real
          // hub on CI's PostgreSQL and Redis: a current build (global-setup) and the services check of the others.
          globalSetup: ['vitest.ci-services.ts', 'packages/cli/test/global-setup.ts'],
        },
      },
    ],
  },
});
