// gcorp providers list|set|remove, run as users run it (a child process), against the hub as openapi.yaml describes it
// (msw handlers from the spec on loopback): what each command sends, what it prints in both modes, its exit code, and
// that an API key is read only from stdin or GCORP_PROVIDER_API_KEY and never printed.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Cli, json } from './helpers/cli.js';
import { TEST_KEY, problem, startMockHub, type MockHub } from './helpers/mock-hub.js';

const PROVIDER_KEY = 'sk-ant-api03-from-stdin-Qw7eR4tY1uI8oP5a';

let hub: MockHub;
let cli: Cli;

beforeAll(async () => {
  hub = await startMockHub();
});
afterAll(async () => {
  await hub.close();
});
beforeEach(() => {
  hub.requests.length = 0;
  cli = new Cli({ GCORP_SERVER_URL: hub.url, GCORP_API_KEY: TEST_KEY });
});
afterEach(() => cli.cleanup());

const sent = (method: string, path: string) => {
  const requests = hub.requestsTo(method, path);
  expect(requests, `${method} ${path}`).toHaveLength(1);
  return JSON.parse(requests[0]!.body) as Record<string, unknown>;
};

describe('providers list', () => {
  it('prints a table of the tenant\'s providers, keys shown only by their last 4 characters', async () => {
    const r = await cli.run(['providers', 'list']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^PROVIDER\s+API KEY\s+BASE URL\s+DEFAULT MODEL\s+UPDATED$/);
    expect(lines[1]).toMatch(/^anthropic\s+…x9Qa\s+\(Anthropic's API\)\s+claude-sonnet-4-5\s/);
    expect(lines[2]).toMatch(/^openai_compatible\s+none\s+https:\/\/llm\.acme\.example\/v1\s+llama-3\.1-70b-instruct\s/);
    const request = hub.requestsTo('GET', '/v1/tenant/providers')[0]!;
    expect(request.headers.get('authorization')).toBe(`Bearer ${TEST_KEY}`);
  });

  it('prints only JSON with --json', async () => {
    const r = await cli.run(['providers', 'list', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const body = json<{ data: { provider: string; api_key_set: boolean }[]; next_cursor: null }>(r);
    expect(body.data.map((p) => [p.provider, p.api_key_set])).toEqual([
      ['anthropic', true],
      ['openai_compatible', false],
    ]);
    expect(body.next_cursor).toBeNull();
  });

  it('says so when the tenant has set nothing', async () => {
    const empty = await startMockHub({ listTenantProviders: ({ exampleResponse }) => Response.json({ data: [], next_cursor: null }, { headers: exampleResponse().headers }) });
    try {
      const r = await cli.run(['providers', 'list'], { env: { GCORP_SERVER_URL: empty.url } });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain("use the instance's");
    } finally {
      await empty.close();
    }
  });
});

describe('providers set', () => {
  it('--with-api-key reads the key from stdin and never prints it', async () => {
    const r = await cli.run(['providers', 'set', 'anthropic', '--with-api-key', '--default-model', 'claude-sonnet-4-5'], { input: `${PROVIDER_KEY}\n` });
    expect(r.code).toBe(0);
    expect(sent('PUT', '/v1/tenant/providers/anthropic')).toEqual({ api_key: PROVIDER_KEY, base_url: null, default_model: 'claude-sonnet-4-5' });
    expect(r.stdout).toContain('✓ Set anthropic for this tenant: API key …x9Qa');
    expect(r.stdout + r.stderr).not.toContain(PROVIDER_KEY);
  });

  it('reads the key from GCORP_PROVIDER_API_KEY', async () => {
    const r = await cli.run(['providers', 'set', 'anthropic', '--json'], { env: { GCORP_PROVIDER_API_KEY: PROVIDER_KEY } });
    expect(r.code).toBe(0);
    expect(sent('PUT', '/v1/tenant/providers/anthropic')).toMatchObject({ api_key: PROVIDER_KEY });
    expect(json(r)).toMatchObject({ provider: 'anthropic', api_key_set: true, api_key_last4: 'x9Qa' });
    expect(r.stdout).not.toContain(PROVIDER_KEY);
  });

  it('without a key keeps the stored one (sends none), and --clear-api-key removes it', async () => {
    const keep = await cli.run(['providers', 'set', 'openai_compatible', '--base-url', 'https://llm.example.com/v1', '--default-model', 'llama']);
    expect(keep.code).toBe(0);
    expect(sent('PUT', '/v1/tenant/providers/openai_compatible')).toEqual({ base_url: 'https://llm.example.com/v1', default_model: 'llama' });
    hub.requests.length = 0;
    const clear = await cli.run(['providers', 'set', 'openai_compatible', '--base-url', 'https://llm.example.com/v1', '--default-model', 'llama', '--clear-api-key'], {
      env: { GCORP_PROVIDER_API_KEY: PROVIDER_KEY },
    });
    expect(clear.code).toBe(0);
    expect(sent('PUT', '/v1/tenant/providers/openai_compatible')).toMatchObject({ api_key: null });
  });

  it('takes no key as a flag, refuses an empty stdin, an unknown provider and a bad URL (exit 2, nothing sent)', async () => {
    const flag = await cli.run(['providers', 'set', 'anthropic', '--api-key', PROVIDER_KEY]);
    expect(flag.code).toBe(2);
    const emptyStdin = await cli.run(['providers', 'set', 'anthropic', '--with-api-key'], { input: '' });
    expect(emptyStdin.code).toBe(2);
    expect(emptyStdin.stderr).toContain('was empty');
    const words = await cli.run(['providers', 'set', 'anthropic', '--with-api-key'], { input: 'two words' });
    expect(words.code).toBe(2);
    const unknown = await cli.run(['providers', 'set', 'gemini']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/anthropic.*openai_compatible|openai_compatible.*anthropic/s);
    const url = await cli.run(['providers', 'set', 'openai_compatible', '--base-url', 'llm.example.com', '--default-model', 'x']);
    expect(url.code).toBe(2);
    expect(url.stderr).toContain('--base-url');
    const both = await cli.run(['providers', 'set', 'anthropic', '--with-api-key', '--clear-api-key'], { input: PROVIDER_KEY });
    expect(both.code).toBe(2);
    expect(hub.requestsTo('PUT', '/v1/tenant/providers/anthropic')).toHaveLength(0);
    expect(hub.requestsTo('PUT', '/v1/tenant/providers/openai_compatible')).toHaveLength(0);
  });

  it("reports the hub's problem (a private base URL refused) with exit 2 and, with --json, the problem on stdout", async () => {
    const refusing = await startMockHub({
      setTenantProvider: () =>
        problem(400, 'provider_target_forbidden', 'Bad Request', 'base_url points at 127.0.0.1 (loopback); the hub only calls public addresses.'),
    });
    try {
      const r = await cli.run(['providers', 'set', 'anthropic', '--base-url', 'https://127.0.0.1/', '--json'], {
        env: { GCORP_SERVER_URL: refusing.url, GCORP_PROVIDER_API_KEY: PROVIDER_KEY },
      });
      expect(r.code).toBe(2);
      expect(json(r)).toMatchObject({ code: 'provider_target_forbidden', status: 400 });
      expect(r.stdout + r.stderr).not.toContain(PROVIDER_KEY);
    } finally {
      await refusing.close();
    }
  });
});

describe('providers remove', () => {
  it('needs --yes when stdin is not a terminal, and removes with it', async () => {
    const refused = await cli.run(['providers', 'remove', 'anthropic']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Pass --yes');
    expect(hub.requestsTo('DELETE', '/v1/tenant/providers/anthropic')).toHaveLength(0);
    const r = await cli.run(['providers', 'remove', 'anthropic', '--yes']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Removed this tenant's anthropic settings");
    expect(hub.requestsTo('DELETE', '/v1/tenant/providers/anthropic')).toHaveLength(1);
    const j = await cli.run(['providers', 'remove', 'openai_compatible', '--yes', '--json']);
    expect(json(j)).toEqual({ provider: 'openai_compatible', removed: true });
  });

  it('exits 4 when the tenant has no settings for the provider', async () => {
    const none = await startMockHub({
      deleteTenantProvider: () => problem(404, 'not_found', 'Not Found', 'This tenant has no settings of its own for the anthropic provider.'),
    });
    try {
      const r = await cli.run(['providers', 'remove', 'anthropic', '--yes'], { env: { GCORP_SERVER_URL: none.url } });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('no settings of its own');
    } finally {
      await none.close();
    }
  });
});
