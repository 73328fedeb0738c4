// The `echo` builtin agent: returns its input, with options to wait, stream events, report usage or fail. It is the
// diagnostic agent for trying the platform, for tests and for the benchmark.
import { RunFailure, type AgentDefinition, type RunContext, type RunResult, type Runtime } from './types.js';
import { abortReason, isPlainObject, sleep, stableAgentId } from './util.js';

export const ECHO_LIMITS = { maxDelayMs: 600_000, maxEvents: 10_000 } as const;

export const ECHO_INPUT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  description:
    'Any JSON value, returned as the output. When the input is an object, these optional fields change what echo does.',
  if: { type: 'object' },
  then: {
    type: 'object',
    properties: {
      delay_ms: {
        type: 'integer',
        minimum: 0,
        maximum: ECHO_LIMITS.maxDelayMs,
        description: 'Milliseconds to run before answering (spread evenly between the events when `events` is set).',
      },
      events: {
        type: 'integer',
        minimum: 0,
        maximum: ECHO_LIMITS.maxEvents,
        description:
          'Number of `run.output.delta` events to emit, `{"delta": "chunk <i>"}` for i = 1..N. Without it, echo emits one delta carrying the whole output.',
      },
      fail: {
        anyOf: [{ type: 'boolean' }, { type: 'string' }],
        description: 'Fail the run (`agent_failed`) after the delay and events; a string is the error detail.',
      },
      usage: {
        type: 'object',
        additionalProperties: false,
        properties: {
          input_tokens: { type: 'integer', minimum: 0 },
          output_tokens: { type: 'integer', minimum: 0 },
        },
        description: 'Token usage to report for the run (default 0 and 0).',
      },
    },
  },
} as const;

export const ECHO_AGENT: AgentDefinition = {
  id: stableAgentId('echo'),
  name: 'echo',
  kind: 'builtin',
  runtime: 'builtin',
  description:
    'Diagnostic agent: returns its input as the output. Input options (when the input is an object): delay_ms, events, fail, usage.',
  input_schema: ECHO_INPUT_SCHEMA,
  config: {},
};

interface EchoOptions {
  delayMs: number;
  events: number | undefined;
  fail: string | undefined;
  usage: { input_tokens: number; output_tokens: number };
  usageGiven: boolean;
}

function invalid(detail: string): RunFailure {
  return new RunFailure('invalid_input', `echo: ${detail}`, { status: 422 });
}

function intOption(value: unknown, name: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw invalid(`${name} must be an integer from 0 to ${max}`);
  }
  return value;
}

function parseOptions(input: unknown): EchoOptions {
  const none: EchoOptions = {
    delayMs: 0,
    events: undefined,
    fail: undefined,
    usage: { input_tokens: 0, output_tokens: 0 },
    usageGiven: false,
  };
  if (!isPlainObject(input)) return none;
  const delayMs = intOption(input.delay_ms, 'delay_ms', ECHO_LIMITS.maxDelayMs) ?? 0;
  const events = intOption(input.events, 'events', ECHO_LIMITS.maxEvents);
  let fail: string | undefined;
  if (input.fail === true) fail = 'echo was asked to fail';
  else if (typeof input.fail === 'string') fail = input.fail || 'echo was asked to fail';
  else if (input.fail !== undefined && input.fail !== false) throw invalid('fail must be a boolean or a string');
  const usage = { input_tokens: 0, output_tokens: 0 };
  let usageGiven = false;
  if (input.usage !== undefined) {
    if (!isPlainObject(input.usage)) throw invalid('usage must be an object {input_tokens, output_tokens}');
    usage.input_tokens = intOption(input.usage.input_tokens, 'usage.input_tokens', Number.MAX_SAFE_INTEGER) ?? 0;
    usage.output_tokens = intOption(input.usage.output_tokens, 'usage.output_tokens', Number.MAX_SAFE_INTEGER) ?? 0;
    usageGiven = true;
  }
  return { delayMs, events, fail, usage, usageGiven };
}

export function createEchoRuntime(): Runtime {
  return {
    async execute(ctx: RunContext): Promise<RunResult> {
      const { signal } = ctx;
      if (signal.aborted) throw abortReason(signal);
      const opts = parseOptions(ctx.input);
      const start = Date.now();

      if (opts.events === undefined) {
        if (opts.delayMs > 0) await sleep(opts.delayMs, signal);
        if (opts.fail === undefined) {
          if (signal.aborted) throw abortReason(signal);
          await ctx.emit({ type: 'run.output.delta', data: { delta: ctx.input } });
        }
      } else {
        // Event i is due at start + delay * i / N: the delay is spread evenly between the events.
        for (let i = 1; i <= opts.events; i++) {
          const wait = start + (opts.delayMs * i) / opts.events - Date.now();
          if (wait >= 1) await sleep(wait, signal);
          if (signal.aborted) throw abortReason(signal);
          await ctx.emit({ type: 'run.output.delta', data: { delta: `chunk ${i}` } });
        }
        if (opts.events === 0 && opts.delayMs > 0) await sleep(opts.delayMs, signal);
      }

      if (signal.aborted) throw abortReason(signal);
      if (opts.usageGiven) await ctx.emit({ type: 'run.usage', data: opts.usage });
      if (opts.fail !== undefined) throw new RunFailure('agent_failed', opts.fail, { status: 500 });
      return { output: ctx.input === undefined ? null : ctx.input, usage: opts.usage };
    },
  };
}
