import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { derefSchema, loadSpec } from '@genericcorp/contract';
import { ECHO_AGENT, SHIPPED_AGENTS, TEMPLATE_AGENTS, createRuntimes, stableAgentId } from '../../src/runtimes/index.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const newAjv = () => addFormats(new Ajv2020({ strict: true, allErrors: true }));
const spec = loadSpec();
const schemas = (spec.components as { schemas: Record<string, unknown> }).schemas;

function specValidator(name: string) {
  const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
  ajv.addSchema({ $id: 'spec', components: { schemas } });
  return ajv.compile({ $ref: `spec#/components/schemas/${name}` });
}

describe('shipped agents', () => {
  it('are echo and the five templates, with valid, unique, stable ids and names', () => {
    expect(SHIPPED_AGENTS.map((a) => a.name)).toEqual([
      'echo',
      'code-reviewer',
      'test-writer',
      'incident-triage',
      'release-notes',
      'docs-writer',
    ]);
    const ids = SHIPPED_AGENTS.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const a of SHIPPED_AGENTS) {
      expect(a.id).toMatch(/^agt_[0-9a-hjkmnp-tv-z]{26}$/);
      expect(a.name).toMatch(/^[a-z][a-z0-9-]{1,62}$/);
      expect(a.id).toBe(stableAgentId(a.name));
      expect(a.description.length).toBeGreaterThan(10);
      expect(a.description.length).toBeLessThanOrEqual(1000);
    }
    expect(stableAgentId('echo')).toBe('agt_0000000000' + stableAgentId('echo').slice(14));
  });

  it('fit the Agent schema of the spec', () => {
    const validate = specValidator('Agent');
    const now = new Date().toISOString();
    for (const a of SHIPPED_AGENTS) {
      const ok = validate({ ...a, created_at: now, updated_at: now });
      expect(validate.errors ?? [], a.name).toEqual([]);
      expect(ok).toBe(true);
    }
    expect(ECHO_AGENT).toMatchObject({ kind: 'builtin', runtime: 'builtin', config: {} });
  });

  it('templates are model agents with a system prompt, using the default provider and model', () => {
    const validate = specValidator('ModelAgentConfig');
    for (const t of TEMPLATE_AGENTS) {
      expect(t.kind).toBe('template');
      expect(t.runtime).toBe('model');
      expect(validate(t.config), t.name).toBe(true);
      expect(t.config).toMatchObject({ provider: null, model: 'default', max_tokens: 4096 });
      expect(String(t.config.system_prompt).length).toBeGreaterThan(300);
      expect(t.input_schema).not.toBeNull();
    }
  });

  it('input schemas compile as JSON Schema 2020-12 (strict) and accept fitting input', () => {
    const byName = Object.fromEntries(SHIPPED_AGENTS.map((a) => [a.name, newAjv().compile(a.input_schema!)]));
    const cases: Array<[string, unknown, boolean]> = [
      ['echo', { message: 'hi' }, true],
      ['echo', 'plain', true],
      ['echo', { delay_ms: 10, events: 3, fail: 'boom', usage: { input_tokens: 1, output_tokens: 2 } }, true],
      ['echo', { delay_ms: -5 }, false],
      ['echo', { events: 10_001 }, false],
      ['echo', { fail: 1 }, false],
      ['code-reviewer', { diff: '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n', language: 'go', focus: ['security'] }, true],
      ['code-reviewer', { language: 'go' }, false],
      ['code-reviewer', { diff: 'x', focus: ['vibes'] }, false],
      ['code-reviewer', { diff: 'x', extra: 1 }, false],
      ['test-writer', { code: 'def f(): pass', framework: 'pytest' }, true],
      ['test-writer', {}, false],
      ['incident-triage', { summary: '5xx spike', alerts: ['HighErrorRate'], started_at: '2025-11-23T10:00:00Z' }, true],
      ['incident-triage', { summary: 'x', started_at: 'yesterday' }, false],
      ['release-notes', { version: '1.2.0', changes: ['fix: crash', { title: 'feat: export', reference: '#12' }] }, true],
      ['release-notes', { changes: [] }, false],
      ['release-notes', { changes: ['x'], audience: 'aliens' }, false],
      ['docs-writer', { subject: 'The login command', doc_type: 'how-to' }, true],
      ['docs-writer', { subject: 'x', doc_type: 'poem' }, false],
    ];
    for (const [name, input, valid] of cases) {
      const validate = byName[name]!;
      expect(validate(input), `${name} ${JSON.stringify(input)}`).toBe(valid);
    }
  });

  it('the spec derefs (sanity of the helper)', () => {
    expect(derefSchema(spec, { $ref: '#/components/schemas/AgentId' })).toMatchObject({ type: 'string' });
  });

  it('an unknown builtin or runtime fails with agent_misconfigured', async () => {
    const runtimes = createRuntimes({
      providers: {},
      webhook: { allowPrivate: false, timeoutMs: 1000, maxAttempts: 1, maxResponseBytes: 1024 },
    });
    const ghost = { ...ECHO_AGENT, name: 'ghost' };
    await expect(runtimes.forAgent(ghost, 't').execute({} as never)).rejects.toMatchObject({ code: 'agent_misconfigured' });
  });
});
