// Quickstart: who the key is, the agent catalog, one run from start to finish, and this period's usage.
//
//   npm install @genericcorp/sdk
//   GCORP_BASE_URL=http://127.0.0.1:4100 GCORP_API_KEY=gc_live_... node quickstart.mjs
import { APIError, GenericCorp } from '@genericcorp/sdk';

// Reads GCORP_API_KEY and GCORP_BASE_URL; pass { apiKey, baseUrl } to set them in code instead.
const gc = new GenericCorp();

try {
  const me = await gc.me.get();
  const who = me.kind === 'api_key' ? `API key "${me.api_key?.name}"` : me.user?.email;
  console.log(`Connected to ${gc.baseUrl} as ${who}, tenant ${me.tenant.name} (plan ${me.plan}).`);

  console.log('\nAgents:');
  // `for await` walks every page of the list.
  for await (const agent of gc.agents.list()) {
    console.log(`  ${agent.name.padEnd(18)} ${agent.kind.padEnd(9)} ${agent.description}`);
  }

  // createAndWait sends an Idempotency-Key, so a retried request never starts the run twice.
  const run = await gc.runs.createAndWait(
    { agent: 'echo', input: { message: 'Hello from the quickstart' }, metadata: { source: 'quickstart' } },
    { timeoutMs: 60_000 },
  );
  console.log(`\nRun ${run.id} ${run.status} in ${run.usage.run_seconds} s. Output: ${JSON.stringify(run.output)}`);

  const summary = await gc.usage.summary();
  console.log(`\nThis period (until ${summary.resets_at}):`);
  for (const quota of summary.quotas) {
    console.log(`  ${quota.name.padEnd(20)} ${String(quota.used).padStart(8)} used of ${quota.limit ?? 'unlimited'}`);
  }
} catch (error) {
  // Every SDK error says what happened; API errors also carry the request id to quote to support.
  console.error(error instanceof APIError ? `${error.name}: ${error.message}` : error);
  process.exitCode = 1;
} finally {
  await gc.close();
}
