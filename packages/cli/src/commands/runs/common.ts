// What `gcorp run` and the runs commands share: showing runs, following their events (resuming after drops, which
// the SDK's stream does), waiting with progress, Ctrl-C handling, and the exit code a finished run maps to.
import type { GenericCorp, Run, RunEvent } from '@genericcorp/sdk';
import { ExitCode, exitCodeForRunStatus } from '../../lib/exit-codes.js';
import { formatDuration, formatNumber, formatRelative, formatTime, formatValue } from '../../lib/format.js';
import type { Output, Style } from '../../lib/output.js';
import { printTable } from '../../lib/table.js';

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);

export function isTerminal(status: string): boolean {
  return TERMINAL.has(status);
}

export function colorStatus(s: Style, status: string, text = status): string {
  if (status === 'succeeded') return s.green(text);
  if (status === 'failed' || status === 'timed_out') return s.red(text);
  if (status === 'cancelled') return s.yellow(text);
  return s.cyan(text);
}

function runDuration(run: Pick<Run, 'started_at' | 'finished_at'>): string {
  if (!run.started_at) return '-';
  const end = run.finished_at ? Date.parse(run.finished_at) : Date.now();
  return formatDuration(end - Date.parse(run.started_at));
}

export function printRuns(out: Output, runs: Run[]): void {
  printTable(
    out,
    [
      { header: 'ID' },
      { header: 'AGENT', shrink: true },
      { header: 'STATUS', color: (text, raw) => colorStatus(out.out, raw, text) },
      { header: 'CREATED' },
      { header: 'DURATION', align: 'right' },
    ],
    runs.map((r) => [r.id, r.agent, r.status, formatRelative(r.created_at), runDuration(r)]),
    'No runs.',
  );
}

export function printRunDetails(out: Output, run: Run): void {
  const c = out.out;
  out.print(`${c.bold(run.id)}  ${run.agent}  ${colorStatus(c, run.status)}`);
  const rows: [string, string][] = [
    ['created', `${formatTime(run.created_at)} (${formatRelative(run.created_at)})`],
    ['started', formatTime(run.started_at)],
    ['finished', formatTime(run.finished_at)],
    ['duration', runDuration(run)],
    ['attempt', String(run.attempt)],
    ['timeout', `${run.timeout_seconds}s`],
    ['usage', `${formatNumber(run.usage.input_tokens)} tokens in, ${formatNumber(run.usage.output_tokens)} out, ${formatNumber(run.usage.run_seconds)} s`],
  ];
  const metadata = Object.entries(run.metadata ?? {});
  if (metadata.length > 0) rows.push(['metadata', metadata.map(([k, v]) => `${k}=${v}`).join(' ')]);
  for (const [label, value] of rows) out.print(`  ${c.dim(label.padEnd(9))} ${value}`);
  out.print(`\n${c.dim('Input:')}\n${formatValue(run.input)}`);
  if (run.output !== null && run.output !== undefined) out.print(`\n${c.dim('Output:')}\n${formatValue(run.output)}`);
  if (run.error) out.print(`\n${c.red('Error:')} ${run.error.title}: ${run.error.detail}${c.dim(` (${run.error.code})`)}`);
}

/** One line on stderr about how the run ended. */
export function printRunEnd(out: Output, run: Run): void {
  const s = out.err;
  const took = run.started_at ? ` in ${runDuration(run)}` : '';
  if (run.status === 'succeeded') out.info(`${s.green('✓')} Run ${run.id} succeeded${took}.`);
  else {
    const why = run.error ? `: ${run.error.title}: ${run.error.detail}` : '';
    out.info(`${colorStatus(s, run.status, '✗')} Run ${run.id} ${run.status.replace('_', ' ')}${took}${why}`);
  }
}

/** The result of a run on stdout for people: its output (text as is, anything else as JSON). */
export function printRunOutput(out: Output, run: Run): void {
  if (run.output !== null && run.output !== undefined) out.print(formatValue(run.output));
}

/**
 * Ctrl-C while watching a run: stops watching (the run goes on) unless `cancel` says to cancel it. A second Ctrl-C
 * exits at once.
 */
export function watchInterrupts(): { signal: AbortSignal; stop: () => void; dispose: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(ExitCode.INTERRUPTED);
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  return {
    signal: controller.signal,
    /** Stops watching as Ctrl-C would (a --timeout running out). */
    stop: () => controller.abort(new Error('timeout')),
    dispose: () => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    },
  };
}

/** After an interrupt or a --timeout: cancel the run (with --cancel) or leave it running, and say which. */
export async function stopWatching(
  gc: GenericCorp,
  out: Output,
  runId: string,
  options: { cancel: boolean; reason: 'interrupted' | 'timeout' },
): Promise<number> {
  const timeout = options.reason === 'timeout';
  const code = timeout ? ExitCode.TIMED_OUT : ExitCode.INTERRUPTED;
  const why = timeout ? 'Gave up waiting (--timeout)' : 'Stopped watching';
  let detail: string;
  let cancelled = false;
  if (options.cancel) {
    try {
      const run = await gc.runs.cancel(runId);
      cancelled = true;
      detail = `${why}; cancelled run ${runId} (${run.status}).`;
    } catch (err) {
      detail = `${why}; could not cancel run ${runId}: ${(err as Error).message}`;
    }
  } else {
    detail = `${why}; run ${runId} goes on. Follow it with: gcorp runs logs ${runId} --follow  (or cancel: gcorp runs cancel ${runId})`;
  }
  out.status(detail);
  if (out.json) {
    // Stopping early is an outcome the caller must see in JSON too: a problem object, with the run's id.
    const problemCode = timeout ? 'wait_timed_out' : 'interrupted';
    out.printJson({
      type: `https://docs.genericcorp.dev/problems/${problemCode}`,
      title: timeout ? 'Timed out' : 'Interrupted',
      detail,
      code: problemCode,
      run_id: runId,
      run_cancelled: cancelled,
    });
  }
  return code;
}

export interface FollowOptions {
  /** `stream`: output deltas to stdout as they come, the rest to stderr (gcorp run). `log`: every event as a line. */
  mode: 'stream' | 'log';
  lastEventId?: string | number | undefined;
  signal: AbortSignal;
}

function eventTime(event: RunEvent): string {
  const t = Date.parse(event.created_at);
  return Number.isNaN(t) ? event.created_at : new Date(t).toISOString().slice(11, 23);
}

/** A one-line description of an event (log mode, and stderr lines in stream mode). */
export function describeEvent(event: RunEvent): string {
  const data = (event.data ?? {}) as Record<string, unknown>;
  if (Object.keys(data).length === 0) return event.type.replace(/^run\./, '');
  switch (event.type) {
    case 'run.queued':
      return `queued (attempt ${event.data.attempt})`;
    case 'run.started':
      return `started (attempt ${event.data.attempt})`;
    case 'run.output.delta':
      return typeof event.data.delta === 'string' ? event.data.delta : JSON.stringify(event.data.delta);
    case 'run.log':
      return `[${event.data.level}] ${event.data.message}`;
    case 'run.usage':
      return `usage: ${event.data.input_tokens} tokens in, ${event.data.output_tokens} out, ${event.data.run_seconds} s`;
    case 'run.completed': {
      const error = event.data.error ? `: ${event.data.error.title}: ${event.data.error.detail}` : '';
      return `completed: ${event.data.status}${error}`;
    }
    default:
      return JSON.stringify((event as { data: unknown }).data);
  }
}

export function printEventLine(out: Output, event: RunEvent): void {
  if (out.json) {
    out.printJsonLine(event);
    return;
  }
  const c = out.out;
  const type = event.type.replace(/^run\./, '').padEnd(12);
  const text = describeEvent(event);
  const colored = event.type === 'run.completed' ? colorStatus(c, event.data.status, text) : event.type === 'run.log' ? c.dim(text) : text;
  out.print(`${c.dim(eventTime(event))}  ${c.cyan(type)}  ${colored}`);
}

export type Completion = Extract<RunEvent, { type: 'run.completed' }>['data'];

/**
 * Follows a run's events until `run.completed` (resolves to its data: status, output, error) or the signal (resolves
 * to undefined). The SDK's stream reconnects with Last-Event-ID after a drop, so nothing is lost or repeated.
 */
export async function followEvents(gc: GenericCorp, out: Output, runId: string, options: FollowOptions): Promise<Completion | undefined> {
  const stream = gc.runs.stream(runId, { lastEventId: options.lastEventId, signal: options.signal });
  let printedOutput = false;
  let endsWithNewline = true;
  try {
    for await (const event of stream) {
      if (options.mode === 'log' || out.json) {
        printEventLine(out, event);
        if (event.type === 'run.completed') return event.data;
        continue;
      }
      const s = out.err;
      switch (event.type) {
        case 'run.output.delta': {
          const text = typeof event.data.delta === 'string' ? event.data.delta : `${JSON.stringify(event.data.delta, null, 2)}\n`;
          out.write(text);
          printedOutput = true;
          endsWithNewline = text.endsWith('\n');
          break;
        }
        case 'run.log':
          out.info(s.dim(`[${event.data.level}] ${event.data.message}`));
          break;
        case 'run.queued':
        case 'run.started':
          out.info(s.dim(`${runId} ${describeEvent(event)}`));
          break;
        case 'run.completed':
          if (printedOutput && !endsWithNewline) out.write('\n');
          if (!printedOutput && event.data.output !== null && event.data.output !== undefined) out.print(formatValue(event.data.output));
          return event.data;
        default:
          break;
      }
    }
    return undefined;
  } catch (err) {
    if (options.signal.aborted) return undefined;
    throw err;
  }
}

/** How often the wait loop reports (and the longest single long poll). */
const WAIT_SLICE_MS = 15_000;

/**
 * Waits for the run to finish with a spinner (or status lines off a terminal); resolves to the run, or undefined
 * when interrupted or past `deadline`.
 */
export async function waitForRun(
  gc: GenericCorp,
  out: Output,
  runId: string,
  options: { signal: AbortSignal; deadline?: number | undefined; initial?: Run | undefined },
): Promise<{ run?: Run; timedOut: boolean }> {
  const { startProgress } = await import('../../lib/progress.js');
  const label = (run?: Run) => `Waiting for run ${runId}${run ? ` (${run.agent}, ${run.status})` : ''}`;
  const progress = await startProgress(out, label(options.initial));
  const { RunWaitTimeoutError } = await import('../../lib/sdk.js');
  try {
    for (;;) {
      const remaining = options.deadline === undefined ? WAIT_SLICE_MS : Math.min(WAIT_SLICE_MS, options.deadline - Date.now());
      if (remaining <= 0) return { timedOut: true };
      try {
        return { run: await gc.runs.wait(runId, { timeoutMs: remaining, signal: options.signal }), timedOut: false };
      } catch (err) {
        if (options.signal.aborted) return { timedOut: false };
        if (!(err instanceof RunWaitTimeoutError)) throw err;
        progress.update(label(err.run));
      }
    }
  } finally {
    progress.stop();
  }
}

export { exitCodeForRunStatus };
