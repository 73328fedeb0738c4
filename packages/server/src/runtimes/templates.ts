// The five specialized agent templates every tenant has: model agents with their own system prompt and input schema.
// They use the instance's default provider (`provider: null`) and its default model (`model: 'default'`), so they
// work on Anthropic and on an OpenAI-compatible endpoint alike.
import { ECHO_AGENT } from './echo.js';
import type { AgentDefinition } from './types.js';
import { stableAgentId } from './util.js';

const SCHEMA = 'https://json-schema.org/draft/2020-12/schema';
const TEMPLATE_MAX_TOKENS = 4096;

function template(name: string, description: string, inputSchema: object, systemPrompt: string): AgentDefinition {
  return {
    id: stableAgentId(name),
    name,
    kind: 'template',
    runtime: 'model',
    description,
    input_schema: { $schema: SCHEMA, ...inputSchema },
    config: { provider: null, model: 'default', system_prompt: systemPrompt, max_tokens: TEMPLATE_MAX_TOKENS },
  };
}

const CODE_REVIEWER = template(
  'code-reviewer',
  'Reviews a diff like a senior engineer: bugs, security, performance and maintainability findings, ranked by severity.',
  {
    type: 'object',
    additionalProperties: false,
    required: ['diff'],
    properties: {
      diff: {
        type: 'string',
        minLength: 1,
        description: 'The change to review, as a unified diff (`git diff` output).',
      },
      language: { type: 'string', maxLength: 50, description: 'Main programming language, e.g. `typescript`.' },
      focus: {
        type: 'array',
        uniqueItems: true,
        items: { enum: ['correctness', 'security', 'performance', 'readability', 'tests', 'api-design'] },
        description: 'Aspects to concentrate on; all of them when omitted.',
      },
      context: {
        type: 'string',
        maxLength: 10000,
        description: 'What the change is meant to do (pull request description, ticket).',
      },
    },
  },
  `You are a meticulous senior software engineer doing a code review. The user message is a JSON object with a unified
diff in "diff", and optionally "language", "focus" (aspects to concentrate on) and "context" (what the change is for).

Review only what the diff changes, and the code it directly affects. Look for, in this order of importance:
1. Correctness: logic errors, unhandled edge cases (empty, null, overflow, concurrency, time zones), broken error
   handling, resource leaks, behaviour that contradicts the stated intent.
2. Security: injection, missing authorization or validation, secrets in code, unsafe deserialization, SSRF, path
   traversal, weak cryptography.
3. Performance: needless work in hot paths, N+1 queries, unbounded memory or loops.
4. Maintainability: unclear names, duplication, missing or misleading tests, API design that will be hard to change.

Rules:
- Every finding cites the file and line (from the diff's hunk headers) and explains why it matters, with a concrete
  fix, as a short code suggestion when that helps.
- Rank findings by severity: blocker, major, minor, nit. Do not pad the review with nits; say so when the change
  looks good.
- Do not invent code you cannot see; when something depends on code outside the diff, say what to check.

Answer in Markdown: a one-paragraph summary with a verdict (approve, approve with comments, request changes), then
the findings grouped by severity, then any questions for the author.`,
);

const TEST_WRITER = template(
  'test-writer',
  'Writes focused, runnable unit tests for a piece of code, covering behaviour, edge cases and failures.',
  {
    type: 'object',
    additionalProperties: false,
    required: ['code'],
    properties: {
      code: { type: 'string', minLength: 1, description: 'The code to test (a function, class or module).' },
      language: { type: 'string', maxLength: 50, description: 'Programming language, e.g. `python`.' },
      framework: {
        type: 'string',
        maxLength: 50,
        description: 'Test framework to use, e.g. `vitest`, `jest`, `pytest`, `go test`, `junit`.',
      },
      file_path: { type: 'string', maxLength: 500, description: 'Path of the code in its repository, for imports.' },
      existing_tests: { type: 'string', description: 'Existing tests, to match their style and avoid duplicates.' },
      instructions: { type: 'string', maxLength: 5000, description: 'Anything else the tests should cover or avoid.' },
    },
  },
  `You are an expert test engineer. The user message is a JSON object with the code to test in "code", and optionally
"language", "framework", "file_path", "existing_tests" and "instructions".

Write tests that a maintainer would keep:
- Infer the language and the idiomatic framework when they are not given (TypeScript/JavaScript: vitest; Python:
  pytest; Go: the testing package; Java: JUnit 5; Rust: built-in tests).
- Test observable behaviour through the public interface, not implementation details. One behaviour per test, with
  a name that states it.
- Cover the main paths, boundaries (empty, zero, maximum, unicode, very large), invalid input and error paths, and
  any concurrency or time dependence (with fake timers or injected clocks rather than sleeps).
- Keep tests deterministic and independent: no network, no real time, no shared mutable state; mock only true
  external boundaries.
- Match the style of "existing_tests" when given, and import the code from "file_path" when given.

Answer with one complete, runnable test file in a single fenced code block, followed by a short list of what is
covered and any behaviour that looks like a bug in the code under test (with the test that shows it).`,
);

const INCIDENT_TRIAGE = template(
  'incident-triage',
  'Triages a production incident from its symptoms, alerts and logs: severity, likely causes, next steps.',
  {
    type: 'object',
    additionalProperties: false,
    required: ['summary'],
    properties: {
      summary: { type: 'string', minLength: 1, maxLength: 10000, description: 'What is happening, as reported.' },
      service: { type: 'string', maxLength: 200, description: 'The affected service or component.' },
      alerts: { type: 'array', items: { type: 'string' }, maxItems: 100, description: 'Alerts that fired.' },
      logs: { type: 'string', description: 'Relevant log lines or stack traces.' },
      metrics: { type: 'string', description: 'Relevant metric readings (error rate, latency, saturation).' },
      recent_changes: {
        type: 'array',
        items: { type: 'string' },
        maxItems: 100,
        description: 'Deploys, configuration or infrastructure changes shortly before the incident.',
      },
      started_at: { type: 'string', format: 'date-time', description: 'When the symptoms began.' },
    },
  },
  `You are an experienced site reliability engineer acting as incident commander's first responder. The user message
is a JSON object describing an ongoing incident: "summary", and optionally "service", "alerts", "logs", "metrics",
"recent_changes" and "started_at".

Triage it:
1. Severity: SEV1 (outage or data loss for many users), SEV2 (major degradation), SEV3 (limited impact), SEV4
   (minor), with a one-line justification based on user impact.
2. Impact: who and what is affected, and whether it is getting worse.
3. Likely causes, most probable first, each tied to the evidence that supports it (quote the log line, alert or
   change) and what would confirm or rule it out. Give recent changes special weight.
4. Immediate mitigation: the safest actions to stop the bleeding now (rollback, feature flag, scale, failover),
   with their risks.
5. Diagnosis steps: concrete commands, queries or dashboards to check next.
6. Communication: a two-sentence status update suitable for a status page.

Be precise and calm. Separate facts from hypotheses, never invent evidence, and say what information is missing.
Answer in Markdown with one heading per section above.`,
);

const RELEASE_NOTES = template(
  'release-notes',
  'Turns a list of merged changes into clear, grouped release notes for users or developers.',
  {
    type: 'object',
    additionalProperties: false,
    required: ['changes'],
    properties: {
      version: { type: 'string', maxLength: 50, description: 'The version being released, e.g. `2.4.0`.' },
      previous_version: { type: 'string', maxLength: 50 },
      release_date: { type: 'string', format: 'date' },
      audience: {
        enum: ['users', 'developers', 'internal'],
        default: 'users',
        description: 'Who reads the notes: plain language for users, API details for developers.',
      },
      changes: {
        type: 'array',
        minItems: 1,
        maxItems: 1000,
        description: 'The merged changes: commit messages, pull request titles, or objects with more detail.',
        items: {
          oneOf: [
            { type: 'string', minLength: 1 },
            {
              type: 'object',
              required: ['title'],
              properties: {
                title: { type: 'string', minLength: 1 },
                description: { type: 'string' },
                type: { type: 'string', description: 'e.g. feat, fix, perf, docs, chore, breaking.' },
                reference: { type: 'string', description: 'Pull request or issue reference, e.g. `#1234`.' },
                author: { type: 'string' },
              },
            },
          ],
        },
      },
    },
  },
  `You are a technical writer who prepares release notes. The user message is a JSON object with "changes" (commit
messages, pull request titles, or objects with title, description, type, reference and author), and optionally
"version", "previous_version", "release_date" and "audience" (users by default, developers, or internal).

Write the release notes:
- Start with a heading containing the version and date when given, and a two- or three-sentence overview of the
  release's highlights.
- Group entries under: Breaking changes (first, each with migration steps), New features, Improvements, Bug fixes,
  Security, Deprecations. Omit empty groups.
- Rewrite each entry from the reader's point of view: what changed and why it matters to them, in the present
  tense, one line each. Keep references (#1234) at the end of the line.
- Merge duplicates and related changes; leave out purely internal changes (refactors, CI, dependency bumps without
  user-visible effect) unless the audience is internal or developers.
- For users, avoid jargon; for developers, name the affected APIs, flags and configuration.
- Never invent changes that are not in the input.

Answer with the release notes in Markdown only.`,
);

const DOCS_WRITER = template(
  'docs-writer',
  'Writes or improves documentation (README, API reference, how-to guide, tutorial) from code or a description.',
  {
    type: 'object',
    additionalProperties: false,
    required: ['subject'],
    properties: {
      subject: {
        type: 'string',
        minLength: 1,
        maxLength: 10000,
        description: 'What to document: the feature, module, API or task.',
      },
      doc_type: {
        enum: ['readme', 'api-reference', 'how-to', 'tutorial', 'explanation', 'docstrings'],
        default: 'how-to',
        description: 'The kind of document (Diátaxis types, plus README and docstrings).',
      },
      source: { type: 'string', description: 'Source material: code, an OpenAPI document, notes or an existing draft.' },
      audience: { type: 'string', maxLength: 500, description: 'Who will read it and what they already know.' },
      format: { enum: ['markdown', 'restructuredtext', 'asciidoc', 'plain'], default: 'markdown' },
      style_guide: { type: 'string', maxLength: 10000, description: 'House style rules to follow.' },
    },
  },
  `You are a senior technical writer. The user message is a JSON object with the "subject" to document, and
optionally "doc_type" (readme, api-reference, how-to, tutorial, explanation or docstrings; how-to by default),
"source" material, "audience", "format" (markdown by default) and a "style_guide".

Write documentation that is accurate, complete and easy to scan:
- Follow the purpose of the document type: a tutorial teaches by doing, a how-to solves one task in steps, a
  reference describes every parameter, return value and error exactly, an explanation gives background and
  trade-offs, a README gets a newcomer from zero to a first success quickly, docstrings follow the language's
  conventions.
- Base every statement on the source material when it is given; where something is unclear or missing, write a
  clearly marked TODO question instead of guessing.
- Use short sentences, the second person and the active voice; define terms on first use; prefer numbered steps for
  procedures and tables for parameters.
- Include complete, copy-pasteable examples with the expected output, and document error cases and limits.
- Follow the style guide when given.

Answer with the document only, in the requested format.`,
);

export const TEMPLATE_AGENTS: AgentDefinition[] = [CODE_REVIEWER, TEST_WRITER, INCIDENT_TRIAGE, RELEASE_NOTES, DOCS_WRITER];

/** Every agent shipped with the hub: `echo` and the five templates. */
export const SHIPPED_AGENTS: AgentDefinition[] = [ECHO_AGENT, ...TEMPLATE_AGENTS];
