// The examples in examples/, each run with node as a user would (GCORP_BASE_URL and GCORP_API_KEY in the environment,
// the built package imported by name): against the spec's mock handlers, and against a real hub.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenericCorp } from '../src/index.js';
import { startMockHub, TEST_KEY, type MockHub } from './helpers/contract.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, BOOTSTRAP_TOKEN, startRealHub, type RealHub } from './helpers/hub.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runExample(file: string, args: string[], env: Record<string, string | undefined>): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(EXAMPLES, file), ...args],
      // Only what a user's shell would have: no test runner or database settings leak into the example.
      { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 60_000, cwd: EXAMPLES },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'gcorp-examples-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function inputFile(name: string, value: unknown): string {
  const file = join(work, name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

describe('the CI workflow', () => {
  it('is a GitHub Actions workflow that runs the script next to it with the key from a secret', () => {
    const workflow = parse(readFileSync(join(EXAMPLES, 'ci', 'gcorp-agent.yml'), 'utf8')) as {
      on: Record<string, unknown>;
      jobs: Record<string, { 'runs-on': string; steps: { run?: string; env?: Record<string, string>; uses?: string }[] }>;
    };
    expect(workflow.on).toHaveProperty('pull_request');
    const steps = workflow.jobs.review!.steps;
    const review = steps.find((step) => step.run?.includes('run-agent.mjs'));
    expect(review?.run).toMatch(/^node examples\/ci\/run-agent\.mjs code-reviewer input\.json/);
    expect(existsSync(join(EXAMPLES, '..', review!.run!.split(' ')[1]!))).toBe(true);
    expect(review?.env?.GCORP_API_KEY).toBe('${{ secrets.GCORP_API_KEY }}');
    expect(steps.some((step) => step.run?.includes('npm install') && step.run.includes('@genericcorp/sdk'))).toBe(true);
  });
});

describe('examples against the mock hub (openapi.yaml examples)', () => {
  let mock: MockHub;
  let env: Record<string, string>;
  beforeAll(async () => {
    mock = await startMockHub();
    env = { GCORP_BASE_URL: mock.url, GCORP_API_KEY: TEST_KEY };
  });
  afterAll(async () => mock?.close());

  it('quickstart', async () => {
    const result = await runExample('quickstart.mjs', [], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Connected to ${mock.url} as ada@acme.example, tenant Acme (plan business).`);
    expect(result.stdout).toMatch(/code-reviewer\s+template/);
    expect(result.stdout).toContain('Run run_01jdz7r8s9t0v1w2x3y4z5a6b7 succeeded');
    expect(result.stdout).toMatch(/runs_per_period\s+1234 used of 10000/);
  });

  it('streaming', async () => {
    const result = await runExample('streaming.mjs', [], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('{"message":"hi"}\n');
    expect(result.stderr).toContain('run succeeded');
  });

  it('ci/run-agent', async () => {
    const outputs = join(work, 'github-output');
    const summary = join(work, 'step-summary');
    const result = await runExample('ci/run-agent.mjs', ['echo', inputFile('mock-input.json', { message: 'hi' })], {
      ...env,
      GITHUB_RUN_ID: '1234',
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_JOB: 'review',
      GITHUB_REPOSITORY: 'acme/web',
      GITHUB_OUTPUT: outputs,
      GITHUB_STEP_SUMMARY: summary,
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ id: 'run_01jdz7r8s9t0v1w2x3y4z5a6b7', status: 'succeeded' });
    expect(readFileSync(outputs, 'utf8')).toBe('run_id=run_01jdz7r8s9t0v1w2x3y4z5a6b7\nstatus=succeeded\n');
    expect(readFileSync(summary, 'utf8')).toContain('### echo: succeeded');
  });

  it('ci/run-agent: usage errors and a missing key give their exit codes', async () => {
    expect((await runExample('ci/run-agent.mjs', [], env)).code).toBe(2);
    const noKey = await runExample('ci/run-agent.mjs', ['echo', inputFile('k.json', {})], { GCORP_BASE_URL: mock.url });
    expect(noKey.code).toBe(3);
    expect(noKey.stderr).toContain('MissingCredentialsError');
  });
});

describe('examples against a real hub', () => {
  let hub: RealHub;
  let env: Record<string, string>;
  beforeAll(async () => {
    hub = await startRealHub();
    const gc = new GenericCorp({ baseUrl: hub.url, apiKey: null, logLevel: 'off' });
    const { api_key } = await gc.bootstrap.create({
      bootstrap_token: BOOTSTRAP_TOKEN,
      admin_email: ADMIN_EMAIL,
      admin_password: ADMIN_PASSWORD,
      tenant_name: 'Acme',
    });
    const key = await gc.withOptions({ apiKey: api_key.key }).apiKeys.create({ name: 'examples', scopes: ['runs:read', 'runs:write', 'agents:read', 'usage:read'] });
    env = { GCORP_BASE_URL: hub.url, GCORP_API_KEY: key.key };
    await gc.close();
  });
  afterAll(async () => hub?.close());

  it('quickstart', async () => {
    const result = await runExample('quickstart.mjs', [], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('as API key "examples", tenant Acme (plan business)');
    expect(result.stdout).toMatch(/echo\s+builtin/);
    expect(result.stdout).toMatch(/Run run_\w+ succeeded .* Output: \{"message":"Hello from the quickstart"\}/);
    expect(result.stdout).toMatch(/runs_per_period\s+\d+ used of/);
  });

  it('streaming', async () => {
    const result = await runExample('streaming.mjs', ['echo', '{"message":"hi","events":3,"delay_ms":300}'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('chunk 1chunk 2chunk 3');
    expect(result.stderr).toMatch(/run run_\w+ queued\nstarted \(attempt 1\)\n(.*\n)*run succeeded\n$/);
  });

  it('ci/run-agent: succeeded, failed, timed out, unknown agent', async () => {
    const ok = await runExample('ci/run-agent.mjs', ['echo', inputFile('ok.json', { message: 'ci' })], env);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: 'succeeded', output: { message: 'ci' } });

    const failed = await runExample('ci/run-agent.mjs', ['echo', inputFile('fail.json', { fail: 'tests are red' })], env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('failed: tests are red');

    const slow = await runExample('ci/run-agent.mjs', ['echo', inputFile('slow.json', { delay_ms: 10_000 })], { ...env, GCORP_TIMEOUT_SECONDS: '1' });
    expect(slow.code).toBe(124);

    const unknown = await runExample('ci/run-agent.mjs', ['no-such-agent', inputFile('x.json', {})], env);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('agent_not_found');
  });

  it('ci/run-agent: the same workflow run attempt never starts a second run', async () => {
    const github = { GITHUB_RUN_ID: '987', GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'review', GITHUB_REPOSITORY: 'acme/web' };
    const input = inputFile('once.json', { message: 'once' });
    const first = await runExample('ci/run-agent.mjs', ['echo', input], { ...env, ...github });
    const again = await runExample('ci/run-agent.mjs', ['echo', input], { ...env, ...github });
    expect(JSON.parse(again.stdout).id).toBe(JSON.parse(first.stdout).id);
    const nextAttempt = await runExample('ci/run-agent.mjs', ['echo', input], { ...env, ...github, GITHUB_RUN_ATTEMPT: '2' });
    expect(nextAttempt.stderr).toMatch(/succeeded/);
    expect(JSON.parse(nextAttempt.stdout).id).not.toBe(JSON.parse(first.stdout).id);
  });
});
