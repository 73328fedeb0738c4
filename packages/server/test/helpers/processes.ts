// Child hub processes for the runs tests (`gcorp-server worker` and `start` from packages/server/dist/bin.js, so build
// first), and the small run helpers those tests share: contract clients per credential, waiting for a run to end,
// reading all of a run's events.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContractFetch, createValidators, loadSpec, type ContractFetch, type Validators } from '@genericcorp/contract';
import { BOOTSTRAP_TOKEN } from './hub.js';

/** The built command line of the server. */
export const BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
/** The secret key startTestHub gives its hub: every process of one test instance must share it. */
export const TEST_SECRET_KEY = 'test-secret-key-0123456789abcdefghijklmnop';

export interface HubProcessOptions {
  /** Owner URL of the test database (createTestDatabase().ownerUrl, also TestHub.ownerUrl). */
  ownerUrl: string;
  /** gcorp_app URL of the test database. */
  appUrl: string;
  /** Runs executed at once (`--concurrency`). */
  concurrency?: number;
  /** Extra environment, e.g. GCORP_LOG_LEVEL=debug while debugging. */
  env?: Record<string, string>;
  /** How long to wait for the ready line (default 60 s). */
  readyTimeoutMs?: number;
}

export interface HubProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr interleaved, last 200 kB). */
  output(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (SIGKILL by default) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM (a graceful stop), then SIGKILL after `graceMs`; resolves once it is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface ApiProcess extends HubProcess {
  url: string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** No child outlives the test process, whatever happens to the test (a failed assertion, a timeout). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * The environment of a child hub: the parent's, without any hub or provider configuration (the test decides), plus
 * the test database, REDIS_URL when this test project has one (server-pg), the shared secret key and quiet logs.
 */
function childEnv(opts: HubProcessOptions, dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('GCORP_') || k.startsWith('DATABASE_') || k === 'REDIS_URL' || k.startsWith('ANTHROPIC_')) continue;
    if (k.startsWith('VITEST') || k === 'NODE_OPTIONS') continue; // vitest's loader hooks have no business in the child
    env[k] = v;
  }
  Object.assign(env, {
    DATABASE_URL: opts.ownerUrl,
    DATABASE_APP_URL: opts.appUrl,
    GCORP_DATA_DIR: dataDir,
    GCORP_SECRET_KEY: TEST_SECRET_KEY,
    GCORP_BOOTSTRAP_TOKEN: BOOTSTRAP_TOKEN,
    GCORP_LOG_LEVEL: 'warn',
    // A short lease (renewed every 1.7 s) and sweep, so that a killed worker's runs are recovered quickly. A test that
    // proves a cancellation arrives by NOTIFY gives its processes a long lease instead (`env: { GCORP_RUN_LEASE_MS }`),
    // so that the renewal, which also notices cancellations, cannot be what stopped the run.
    GCORP_RUN_LEASE_MS: '5000',
    GCORP_SWEEP_INTERVAL_MS: '250',
  });
  if (process.env.REDIS_URL) env.REDIS_URL = process.env.REDIS_URL;
  Object.assign(env, opts.env ?? {});
  return env;
}

async function spawnHub(
  command: 'worker' | 'start',
  opts: HubProcessOptions,
  ready: RegExp,
): Promise<{ proc: HubProcess; match: RegExpMatchArray }> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (npx turbo run build)`);
  installExitHook();
  const dataDir = await mkdtemp(join(tmpdir(), `gcorp-${command}-`));
  const args = [BIN, command];
  if (opts.concurrency !== undefined) args.push('--concurrency', String(opts.concurrency));
  if (command === 'start') args.push('--port', '0', '--host', '127.0.0.1');
  const child = spawn(process.execPath, args, { env: childEnv(opts, dataDir), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  const append = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > 200_000) out = out.slice(-200_000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  void exited.then(() => rm(dataDir, { recursive: true, force: true }).catch(() => undefined));

  const proc: HubProcess = {
    pid: child.pid!,
    child,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };

  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      void proc.kill();
      reject(new Error(`gcorp-server ${command} was not ready within ${timeoutMs} ms; output:\n${out}`));
    }, timeoutMs);
    const onData = () => {
      const m = out.match(ready);
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`gcorp-server ${command} exited (${code ?? signal}) before it was ready; output:\n${out}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
    onData();
  });
  return { proc, match };
}

/** `gcorp-server worker` on the test database; resolves once it printed "worker ready". */
export async function startWorkerProcess(opts: HubProcessOptions): Promise<HubProcess> {
  const { proc } = await spawnHub('worker', opts, /worker ready \(concurrency \d+\)/);
  return proc;
}

/** `gcorp-server start` (API and, unless concurrency is 0, a worker) on the test database. */
export async function startApiProcess(opts: HubProcessOptions): Promise<ApiProcess> {
  const { proc, match } = await spawnHub('start', opts, /listening on (http:\/\/\S+)/);
  return Object.assign(proc, { url: match[1]! });
}

// ---- run helpers shared by the runs-* tests ----

let sharedValidators: Validators | undefined;

/** A contract client for `baseUrl` that authenticates with `token` (validators compiled once per test process). */
export function clientFor(baseUrl: string, token: string): ContractFetch {
  sharedValidators ??= createValidators(loadSpec());
  return createContractFetch({ baseUrl, validators: sharedValidators, headers: { authorization: `Bearer ${token}` } });
}

export const TERMINAL_STATUSES = ['succeeded', 'failed', 'cancelled', 'timed_out'] as const;

export interface RunBody {
  id: string;
  agent: string;
  status: string;
  input: unknown;
  output: unknown;
  error: { type: string; title: string; status: number; detail: string; code: string; request_id: string } | null;
  metadata: Record<string, string>;
  attempt: number;
  timeout_seconds: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  usage: { input_tokens: number; output_tokens: number; run_seconds: number };
}

export interface RunEvent {
  id: string;
  run_id: string;
  seq: number;
  type: string;
  data: Record<string, unknown>;
  created_at: string;
}

/** Long-polls GET /v1/runs/{id}/wait until the run is terminal; fails after `budgetMs`. */
export async function waitForRun(api: ContractFetch, id: string, budgetMs = 20_000): Promise<RunBody> {
  const deadline = Date.now() + budgetMs;
  let last: RunBody | undefined;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`run ${id} did not finish within ${budgetMs} ms (last seen: ${JSON.stringify(last)})`);
    const timeout = Math.max(1, Math.min(10, Math.floor(left / 1000)));
    const res = await api.call<RunBody>('GET', `/v1/runs/${id}/wait?timeout=${timeout}`);
    if (res.status !== 200 && res.status !== 202) throw new Error(`wait for ${id} answered ${res.status}: ${res.text}`);
    last = res.body;
    if (res.status === 200) return res.body;
  }
}

/** Polls GET /v1/runs/{id} (every `everyMs`) until `predicate` holds; fails after `budgetMs`. */
export async function pollRun(
  api: ContractFetch,
  id: string,
  predicate: (run: RunBody) => boolean,
  budgetMs = 10_000,
  everyMs = 20,
): Promise<RunBody> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const res = await api.call<RunBody>('GET', `/v1/runs/${id}`);
    if (res.status !== 200) throw new Error(`GET run ${id} answered ${res.status}: ${res.text}`);
    if (predicate(res.body)) return res.body;
    if (Date.now() > deadline) throw new Error(`run ${id} did not reach the expected state within ${budgetMs} ms: ${JSON.stringify(res.body)}`);
    await sleep(everyMs);
  }
}

/** Every stored event of a run, through the JSON list form, following next_cursor. */
export async function allEvents(api: ContractFetch, id: string): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const query: string = cursor ? `?limit=100&cursor=${encodeURIComponent(cursor)}` : '?limit=100';
    const res = await api.call<{ data: RunEvent[]; next_cursor: string | null }>('GET', `/v1/runs/${id}/events${query}`, {
      headers: { accept: 'application/json' },
    });
    if (res.status !== 200) throw new Error(`events of ${id} answered ${res.status}: ${res.text}`);
    events.push(...res.body.data);
    cursor = res.body.next_cursor;
    if (!cursor) return events;
  }
  throw new Error(`events of ${id}: too many pages`);
}

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  /** Comment lines (without the leading colon), e.g. ' keep-alive'. */
  comments: string[];
  retry?: number;
}

/** Splits an event stream into frames (per the SSE spec: fields up to a blank line; CRLF, LF and CR line ends). */
export function parseSse(text: string): SseFrame[] {
  const frames: SseFrame[] = [];
  let cur: SseFrame = { comments: [] };
  let touched = false;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (touched) frames.push(cur);
      cur = { comments: [] };
      touched = false;
      continue;
    }
    touched = true;
    if (line.startsWith(':')) {
      cur.comments.push(line.slice(1));
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') cur.data = cur.data === undefined ? value : `${cur.data}\n${value}`;
    else if (field === 'id') cur.id = value;
    else if (field === 'event') cur.event = value;
    else if (field === 'retry') cur.retry = Number(value);
  }
  return frames;
}

/**
 * Every event of a finished run, replayed through the SSE form of GET /v1/runs/{id}/events (the server closes the
 * stream after run.completed). Checks that each frame's `id:` is the seq and `event:` the type of its data.
 */
export async function replayEvents(api: ContractFetch, id: string, budgetMs = 15_000): Promise<RunEvent[]> {
  const signal = AbortSignal.timeout(budgetMs);
  const res = await api.call('GET', `/v1/runs/${id}/events`, { stream: true, headers: { accept: 'text/event-stream' }, signal });
  if (res.status !== 200 || !res.stream) throw new Error(`event stream of ${id} answered ${res.status}: ${res.text}`);
  const text = await new Response(res.stream).text();
  const events: RunEvent[] = [];
  for (const frame of parseSse(text)) {
    if (frame.data === undefined) continue;
    const e = JSON.parse(frame.data) as RunEvent;
    if (frame.id !== String(e.seq) || frame.event !== e.type) {
      throw new Error(`frame id/event (${frame.id}/${frame.event}) do not match its data (${e.seq}/${e.type})`);
    }
    events.push(e);
  }
  return events;
}

/** Polls the JSON event list until an event satisfies `predicate`; fails after `budgetMs`. */
export async function waitForEvent(
  api: ContractFetch,
  id: string,
  predicate: (e: RunEvent) => boolean,
  budgetMs = 10_000,
): Promise<RunEvent> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const found = (await allEvents(api, id)).find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`run ${id}: no matching event within ${budgetMs} ms`);
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Maps over `items` with at most `limit` calls in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return results;
}
