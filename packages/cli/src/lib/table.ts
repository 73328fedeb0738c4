// Tables for lists: aligned columns, a header, and on a terminal columns shortened to fit its width.
import type { Output } from './output.js';

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** May be shortened (with …) when the table is wider than the terminal. */
  shrink?: boolean;
  /** Colour applied after padding (so widths stay right). */
  color?: (text: string, raw: string) => string;
}

const GAP = '  ';

function truncate(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`;
}

/** Prints `rows` under `columns` on stdout; an empty list prints `empty` on stderr instead. */
export function printTable(out: Output, columns: Column[], rows: string[][], empty = 'Nothing to show.'): void {
  if (rows.length === 0) {
    out.info(out.err.dim(empty));
    return;
  }
  const cells = rows.map((row) => row.map((cell) => (cell ?? '').replace(/[\r\n\t]+/g, ' ')));
  const widths = columns.map((col, i) => Math.max(col.header.length, ...cells.map((row) => row[i]?.length ?? 0)));
  if (out.stdoutIsTTY) {
    // Shrink the shrinkable columns, widest first, until the table fits the terminal.
    const total = () => widths.reduce((a, b) => a + b, 0) + GAP.length * (widths.length - 1);
    let guard = 0;
    while (total() > out.columns && guard++ < 1000) {
      let widest = -1;
      for (let i = 0; i < columns.length; i++) {
        if (columns[i]!.shrink && widths[i]! > Math.max(8, columns[i]!.header.length) && (widest === -1 || widths[i]! > widths[widest]!)) widest = i;
      }
      if (widest === -1) break;
      widths[widest] = widths[widest]! - 1;
    }
  }
  const line = (values: string[], header: boolean) =>
    values
      .map((value, i) => {
        const col = columns[i]!;
        const text = truncate(value, widths[i]!);
        const padded = col.align === 'right' ? text.padStart(widths[i]!) : i === values.length - 1 ? text : text.padEnd(widths[i]!);
        if (header) return out.out.bold(padded);
        return col.color ? col.color(padded, value) : padded;
      })
      .join(GAP)
      .trimEnd();
  out.print(line(columns.map((c) => c.header), true));
  for (const row of cells) out.print(line(row, false));
}
