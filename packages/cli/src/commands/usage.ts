// gcorp usage: this period against the plan's quotas, and a per-day chart of runs, tokens or run seconds.
import * as Flags from '@oclif/core/flags';
import type { Usage, UsageSummary } from '@genericcorp/sdk';
import { BaseCommand } from '../base-command.js';
import { meter, printBarChart } from '../lib/chart.js';
import { usageError } from '../lib/errors.js';
import { formatNumber, formatRelative } from '../lib/format.js';

const DAY_MS = 86_400_000;
const QUOTA_LABELS: Record<string, string> = {
  runs_per_period: 'runs this period',
  tokens_per_period: 'tokens this period',
  concurrent_runs: 'concurrent runs',
  requests_per_minute: 'requests per minute',
};
const METRICS = { runs: 'Runs', tokens: 'Tokens (in + out)', seconds: 'Run seconds' } as const;
type Metric = keyof typeof METRICS;
/** Groups shown by name in the chart; the rest are summed as "other". */
const MAX_GROUPS = 6;

function startOfUtcDay(t: number): number {
  return Math.floor(t / DAY_MS) * DAY_MS;
}

function csvCell(value: string | number | null): string {
  const text = value === null ? '' : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export default class UsageCommand extends BaseCommand<typeof UsageCommand> {
  static override summary = 'Show usage this period against the plan\'s quotas, and a chart per day.';
  static override description = `The summary (GET /v1/usage/summary) lists each quota of the plan with what is used; the chart (GET /v1/usage, daily buckets in UTC) shows runs, tokens or run seconds per day, split by agent or API key with --by. --csv prints the daily buckets as CSV; --json prints { summary, usage }.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --days 30 --by agent --metric tokens',
    '<%= config.bin %> <%= command.id %> --from 2025-11-01 --to 2025-12-01 --by key --csv > usage.csv',
    '<%= config.bin %> <%= command.id %> --json',
  ];
  static override flags = {
    days: Flags.integer({ char: 'd', description: 'Days to chart, ending today (UTC).', min: 1, max: 366, default: 14 }),
    from: Flags.string({ description: 'Start of the range (a date, a date-time, or an age like 30d); instead of --days.' }),
    to: Flags.string({ description: 'End of the range, exclusive: --from 2025-11-01 --to 2025-12-01 is November (default: the end of today, UTC).' }),
    by: Flags.string({ char: 'b', description: 'Split by agent or by API key.', options: ['agent', 'key'] }),
    metric: Flags.string({ description: 'What the chart shows.', options: Object.keys(METRICS), default: 'runs' }),
    csv: Flags.boolean({ description: 'Print the daily buckets as CSV.', exclusive: ['json'] }),
  };

  async run(): Promise<void> {
    const { parseFlag, pointInTime } = await import('../lib/validation.js');
    const now = Date.now();
    const to = this.flags.to === undefined ? startOfUtcDay(now) + DAY_MS : Math.ceil(parseFlag('--to', pointInTime(now), this.flags.to).getTime() / DAY_MS) * DAY_MS;
    const from = this.flags.from === undefined ? to - this.flags.days * DAY_MS : startOfUtcDay(parseFlag('--from', pointInTime(now), this.flags.from).getTime());
    if (from >= to) throw usageError('--from must be before --to.');
    if ((to - from) / DAY_MS > 366) throw usageError('The range is longer than 366 days: narrow --from/--to.');
    const groupBy = this.flags.by === 'agent' ? 'agent' : this.flags.by === 'key' ? 'api_key' : undefined;

    const gc = await (await this.context()).client();
    const [summary, usage] = await Promise.all([
      this.flags.csv ? Promise.resolve(undefined) : gc.usage.summary(),
      gc.usage.get({ from: new Date(from), to: new Date(to), granularity: 'day', ...(groupBy ? { group_by: groupBy } : {}) }),
    ]);
    if (this.flags.csv) {
      this.printCsv(usage);
      return;
    }
    if (this.out.json) {
      this.out.printJson({ summary, usage });
      return;
    }
    this.printSummary(summary!);
    this.out.print();
    this.printChart(usage, from, to, this.flags.metric as Metric);
  }

  private printCsv(usage: Usage): void {
    this.out.print('date,group,runs,input_tokens,output_tokens,run_seconds');
    for (const b of usage.data) {
      this.out.print([b.start.slice(0, 10), b.group, b.runs, b.input_tokens, b.output_tokens, b.run_seconds].map(csvCell).join(','));
    }
  }

  private printSummary(summary: UsageSummary): void {
    const c = this.out.out;
    this.out.print(
      `${c.bold(`Plan ${summary.plan}`)} · period ${summary.period_start.slice(0, 10)} to ${summary.period_end.slice(0, 10)} ${c.dim(`(resets ${formatRelative(summary.resets_at)})`)}`,
    );
    this.out.print(
      c.dim(
        `Used this period: ${formatNumber(summary.usage.runs)} runs, ${formatNumber(summary.usage.input_tokens)} tokens in, ${formatNumber(summary.usage.output_tokens)} out, ${formatNumber(summary.usage.run_seconds)} run seconds; ${summary.usage.concurrent_runs} running now.`,
      ),
    );
    this.out.print();
    const width = Math.max(...summary.quotas.map((q) => (QUOTA_LABELS[q.name] ?? q.name).length), 5);
    const rows = summary.quotas.map((q) => {
      const label = (QUOTA_LABELS[q.name] ?? q.name).padEnd(width);
      const used = formatNumber(q.used);
      const limit = q.limit === null ? 'unlimited' : formatNumber(q.limit);
      return { label, text: `${used} / ${limit}`, q };
    });
    const textWidth = Math.max(...rows.map((r) => r.text.length));
    for (const { label, text, q } of rows) {
      const bar = q.limit === null ? '' : `  ${meter(this.out, q.used, q.limit)}`;
      this.out.print(`${c.dim(label)}  ${text.padStart(textWidth)}${bar}`);
    }
  }

  private printChart(usage: Usage, from: number, to: number, metric: Metric): void {
    const valueOf = (b: Usage['data'][number]) => (metric === 'runs' ? b.runs : metric === 'tokens' ? b.input_tokens + b.output_tokens : b.run_seconds);
    // Groups by their total, biggest first; beyond MAX_GROUPS they are summed as "other".
    const totals = new Map<string, number>();
    const key = (group: string | null | undefined) => group ?? (this.flags.by === 'key' ? '(users)' : 'all');
    for (const b of usage.data) totals.set(key(b.group), (totals.get(key(b.group)) ?? 0) + valueOf(b));
    let groups = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([g]) => g);
    const other = groups.length > MAX_GROUPS ? new Set(groups.slice(MAX_GROUPS - 1)) : new Set<string>();
    if (other.size > 0) groups = [...groups.slice(0, MAX_GROUPS - 1), 'other'];
    if (groups.length === 0) groups = ['all'];
    const days: { label: string; values: number[] }[] = [];
    for (let t = from; t < to; t += DAY_MS) days.push({ label: new Date(t).toISOString().slice(0, 10), values: groups.map(() => 0) });
    for (const b of usage.data) {
      const day = days[Math.floor((Date.parse(b.start) - from) / DAY_MS)];
      if (!day) continue;
      const g = key(b.group);
      const index = groups.indexOf(other.has(g) ? 'other' : g);
      if (index >= 0) day.values[index] = day.values[index]! + valueOf(b);
    }
    const by = this.flags.by ? ` by ${this.flags.by}` : '';
    this.out.print(this.out.out.bold(`${METRICS[metric]} per day${by} (UTC)`));
    printBarChart(this.out, days, { legend: this.flags.by ? groups : undefined, format: (n) => formatNumber(n) });
  }
}

