// Horizontal bar charts drawn with block characters, as wide as the terminal, with one segment per group.
import type { Output } from './output.js';

export interface BarRow {
  label: string;
  /** Values per group, in legend order (a group missing from a row counts as 0). */
  values: number[];
}

const PLAIN_MARKS = ['█', '▓', '▒', '░', '#', '=', '+', ':'];

/** Splits `total` cells among `values` so the pieces add up exactly (largest remainders). */
function apportion(values: number[], cells: number, max: number): number[] {
  if (max <= 0) return values.map(() => 0);
  const exact = values.map((v) => (v / max) * cells);
  const floors = exact.map(Math.floor);
  const target = Math.round(exact.reduce((a, b) => a + b, 0));
  let left = target - floors.reduce((a, b) => a + b, 0);
  const order = exact.map((v, i) => [v - Math.floor(v), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left <= 0) break;
    floors[i] = floors[i]! + 1;
    left--;
  }
  return floors;
}

/** Prints the chart on stdout; `legend` names the groups (omitted for a single unnamed series). */
export function printBarChart(out: Output, rows: BarRow[], options: { legend?: string[]; format: (n: number) => string }): void {
  const c = out.out;
  const colors = [c.cyan, c.magenta, c.yellow, c.green, c.blue, c.red, c.gray, c.dim];
  const mark = (group: number, cells: number) =>
    cells <= 0 ? '' : c.enabled ? colors[group % colors.length]!('█'.repeat(cells)) : PLAIN_MARKS[group % PLAIN_MARKS.length]!.repeat(cells);
  const totals = rows.map((r) => r.values.reduce((a, b) => a + b, 0));
  const max = Math.max(0, ...totals);
  const labelWidth = Math.max(...rows.map((r) => r.label.length), 1);
  const valueWidth = Math.max(...totals.map((t) => options.format(t).length), 1);
  const barWidth = Math.max(10, out.columns - labelWidth - valueWidth - 3);
  for (const [i, row] of rows.entries()) {
    const cells = apportion(row.values, barWidth, max);
    const bar = cells.map((n, g) => mark(g, n)).join('');
    const used = cells.reduce((a, b) => a + b, 0);
    const value = options.format(totals[i]!).padStart(valueWidth);
    out.print(`${c.dim(row.label.padEnd(labelWidth))} ${bar}${' '.repeat(Math.max(0, barWidth - used))} ${value}`);
  }
  if (options.legend && options.legend.length > 0) {
    out.print(options.legend.map((name, g) => `${mark(g, 1)} ${name}`).join('  '));
  }
}

/** A short meter like `████░░░░░░ 42%` for a quota. */
export function meter(out: Output, used: number, limit: number, width = 20): string {
  const c = out.out;
  const ratio = limit > 0 ? Math.min(1, used / limit) : 1;
  const filled = Math.round(ratio * width);
  const color = ratio >= 0.9 ? c.red : ratio >= 0.7 ? c.yellow : c.green;
  return `${color('█'.repeat(filled))}${c.dim('░'.repeat(width - filled))} ${Math.round(ratio * 100)}%`;
}
