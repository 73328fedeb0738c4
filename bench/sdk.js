// Issue 5's benchmark: N sequential `GET /v1/runs/{id}` through the SDK, beside raw `undici.request` on a keep-alive
// Agent and beside openapi-fetch on the global fetch, against the same hub (in its own process) in the same run.
// Goals: SDK <= 1.1x the raw undici time per request, and faster than openapi-fetch.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ROOT,
  envInt,
  formatRatio,
  goalMax,
  hubSecrets,
  makeTempDir,
  median,
  printGoals,
  printTable,
  request,
  runBench,
  scrubHubEnv,
  startPostgres,
  startServerChild,
  writeResults,
} from './lib.js';

const NAME = 'sdk';
const SERVER = join(ROOT, 'bench/servers/core-server.js');
const N = envInt('BENCH_SDK_REQUESTS', 10_000, { min: 100, max: 1_000_000 });
const ROUNDS = envInt('BENCH_ROUNDS', 3, { min: 1, max: 20 });

// The clients under test come from the SDK package's own dependencies (undici 7, openapi-fetch).
const sdkRequire = createRequire(join(ROOT, 'packages/sdk/package.json'));
const load = (name) => import(pathToFileURL(sdkRequire.resolve(name)).href);

async function main() {
  const removedEnv = scrubHubEnv();
  const tmpDir = makeTempDir('gcorp-bench-sdk-');
  const secrets = hubSecrets();
  const log = (line) => console.log(`[sdk] ${line}`);
  const pg = await startPostgres({ secrets, tmpDir, appPassword: removedEnv.GCORP_DB_APP_PASSWORD });
  log(`PostgreSQL: ${pg.description}`);
  const hub = await startServerChild(
    SERVER,
    { kind: 'hub', ownerUrl: pg.ownerUrl, appPassword: pg.appPassword, dataDir: join(tmpDir, 'hub'), bootstrapToken: secrets.bootstrapToken, secretKey: secrets.secretKey },
    { label: 'hub server' },
  );
  const url = hub.url;
  const boot = await request(`${url}/v1/bootstrap`, {
    method: 'POST',
    json: { bootstrap_token: secrets.bootstrapToken, admin_email: 'bench@example.com', admin_password: `bench-${secrets.secretKey}`, tenant_name: 'bench' },
  });
  if (boot.status !== 201) throw new Error(`bootstrap answered ${boot.status}: ${boot.text}`);
  const key = boot.body.api_key.key;
  const auth = { authorization: `Bearer ${key}` };
  const run = await request(`${url}/v1/runs`, { method: 'POST', headers: auth, json: { agent: 'echo', input: { message: 'bench' } } });
  if (run.status !== 201) throw new Error(`POST /v1/runs answered ${run.status}: ${run.text}`);
  await request(`${url}/v1/runs/${run.body.id}/wait?timeout=30`, { headers: auth, timeoutMs: 35_000 });
  const runId = run.body.id;

  const undici = await load('undici');
  const { default: createClient } = await import('openapi-fetch'); // ESM entry (require.resolve would pick the CJS one)
  const { GenericCorp } = await import(pathToFileURL(join(ROOT, 'packages/sdk/dist/esm/index.js')).href);

  const agent = new undici.Agent({ keepAliveTimeout: 30_000 });
  const sdk = new GenericCorp({ apiKey: key, baseUrl: url, maxRetries: 0 });
  const openapiFetch = createClient({ baseUrl: url, headers: auth });

  const clients = {
    undici: async () => {
      const res = await undici.request(`${url}/v1/runs/${runId}`, { dispatcher: agent, headers: auth });
      const body = await res.body.json();
      if (res.statusCode !== 200 || body.id !== runId) throw new Error(`undici: ${res.statusCode}`);
    },
    sdk: async () => {
      const body = await sdk.runs.get(runId);
      if (body.id !== runId) throw new Error('sdk: wrong body');
    },
    'openapi-fetch': async () => {
      const { data, response } = await openapiFetch.GET('/v1/runs/{id}', { params: { path: { id: runId } } });
      if (response.status !== 200 || data.id !== runId) throw new Error(`openapi-fetch: ${response.status}`);
    },
  };
  const perRequestUs = { undici: [], sdk: [], 'openapi-fetch': [] };
  for (const fn of Object.values(clients)) for (let i = 0; i < 200; i++) await fn(); // warm connections and JITs
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, fn] of Object.entries(clients)) {
      const started = performance.now();
      for (let i = 0; i < N; i++) await fn();
      const us = ((performance.now() - started) * 1000) / N;
      perRequestUs[name].push(us);
      log(`round ${round}: ${name} ${us.toFixed(1)} µs per request (${N} sequential requests)`);
    }
  }
  const med = Object.fromEntries(Object.entries(perRequestUs).map(([k, v]) => [k, median(v)]));
  printTable(
    [{ title: 'client' }, { title: 'µs per request (median)', align: 'right' }, { title: 'requests/s', align: 'right' }, { title: 'vs raw undici', align: 'right' }],
    Object.entries(med).map(([k, v]) => [k, v.toFixed(1), Math.round(1e6 / v), formatRatio(v / med.undici)]),
  );
  const vsUndici = med.sdk / med.undici;
  const vsFetch = med.sdk / med['openapi-fetch'];
  const goals = [
    goalMax('sdk-vs-undici', { value: vsUndici, max: 1.1, valid: true, detail: `SDK ${formatRatio(vsUndici)} the raw undici.request time per request (goal <= 1.1x)` }),
    goalMax('sdk-vs-openapi-fetch', { value: vsFetch, max: 1, valid: true, detail: `SDK ${formatRatio(vsFetch)} openapi-fetch's time per request (goal: faster, < 1x)` }),
  ];
  printGoals(NAME, goals);
  writeResults(NAME, { module: NAME, valid: true, requests: N, rounds: ROUNDS, per_request_us: perRequestUs, median_us: med, goals, postgres: pg.description });
  await agent.close();
  await sdk.close?.();
  return 0;
}

await runBench(NAME, main, { timeoutMs: 20 * 60_000 });
