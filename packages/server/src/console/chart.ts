// Inline SVG charts for the console, built on the server from numbers only (labels are escaped): no script, no
// external library, and nothing a Content-Security-Policy without 'unsafe-inline' styles would block.
import { html, raw, type SafeHtml } from '../http/html.js';

export interface DayValue {
  /** Start of the UTC day, RFC 3339. */
  start: string;
  value: number;
}

export interface BarChartOptions {
  title: string;
  /** Unit in tooltips and the axis label: "runs", "tokens". */
  unit: string;
  /** Even daily pace of the period's quota (limit / days in the period); null when unlimited. */
  pace: number | null;
}

const W = 520;
const H = 220;
const PAD = { left: 52, right: 14, top: 16, bottom: 30 };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export const formatNumber = (n: number): string => new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 }).format(n);

export function compactNumber(n: number): string {
  return new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 }).format(n);
}

export function dayLabel(iso: string): string {
  const d = new Date(iso);
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
}

/** A round axis maximum at or above `n` whose half is a whole number too: 2, 4, 6, 8 or 10 times a power of ten. */
export function niceCeil(n: number): number {
  if (n <= 2) return 2;
  const pow = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 4, 6, 8, 10]) if (m * pow >= n && (m * pow) % 2 === 0) return m * pow;
  return 10 * pow;
}

const fixed = (n: number) => Number(n.toFixed(2));

/**
 * Bars per day, with a dashed line at the quota's even daily pace when it fits on the scale (within 4 times the
 * busiest day); otherwise the legend gives the pace and says it is off the scale.
 */
export function barChart(days: DayValue[], opts: BarChartOptions): SafeHtml {
  const max = Math.max(0, ...days.map((d) => d.value));
  const paceFits = opts.pace !== null && opts.pace > 0 && opts.pace <= Math.max(max, 1) * 4;
  const top = niceCeil(Math.max(max, paceFits ? opts.pace! : 0, 1));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(days.length, 1);
  const barW = Math.max(2, slot * 0.68);
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;

  const grid = [0, 0.5, 1].map((f) => {
    const v = top * f;
    return html`<g class="grid"><line x1="${PAD.left}" x2="${W - PAD.right}" y1="${fixed(y(v))}" y2="${fixed(y(v))}"/><text x="${PAD.left - 8}" y="${fixed(y(v) + 4)}" text-anchor="end">${compactNumber(v)}</text></g>`;
  });
  const bars = days.map((d, i) => {
    const h = (d.value / top) * plotH;
    const x = PAD.left + i * slot + (slot - barW) / 2;
    const label = `${dayLabel(d.start)}: ${formatNumber(d.value)} ${opts.unit}`;
    // A transparent full-height hit area carries the tooltip so that days with small (or no) bars show one too.
    return html`<g class="bar"><rect class="hit" x="${fixed(PAD.left + i * slot)}" y="${PAD.top}" width="${fixed(slot)}" height="${plotH}"/><rect class="fill${d.value === 0 ? ' zero' : ''}" x="${fixed(x)}" y="${fixed(y(d.value) - (d.value > 0 && h < 2 ? 2 - h : 0))}" width="${fixed(barW)}" height="${fixed(d.value > 0 ? Math.max(h, 2) : 0)}" rx="2"/><title>${label}</title></g>`;
  });
  const ticks = days
    .map((d, i) => ({ d, i }))
    .filter(({ i }) => (days.length - 1 - i) % 7 === 0)
    .map(({ d, i }) => html`<text class="tick" x="${fixed(PAD.left + i * slot + slot / 2)}" y="${H - 8}" text-anchor="middle">${dayLabel(d.start)}</text>`);
  const pace =
    paceFits && opts.pace !== null
      ? html`<line class="pace" x1="${PAD.left}" x2="${W - PAD.right}" y1="${fixed(y(opts.pace))}" y2="${fixed(y(opts.pace))}"/>`
      : '';
  const total = days.reduce((a, d) => a + d.value, 0);
  const legend =
    opts.pace === null
      ? html`<span class="legend-item"><i class="key bar-key"></i>${opts.unit} per day</span><span class="legend-item muted">No ${opts.unit} quota on this plan</span>`
      : html`<span class="legend-item"><i class="key bar-key"></i>${opts.unit} per day</span><span class="legend-item"><i class="key pace-key"></i>quota pace ${formatNumber(Math.round(opts.pace))}/day${paceFits ? '' : ' (above this scale)'}</span>`;
  return html`<figure class="chart">
<figcaption><span class="chart-title">${opts.title}</span><span class="chart-total">${formatNumber(total)} ${opts.unit} in ${days.length} days</span></figcaption>
<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${opts.title}: ${formatNumber(total)} ${opts.unit} over ${days.length} days" preserveAspectRatio="none">${grid}${bars}${pace}${ticks}</svg>
<div class="legend">${legend}</div>
</figure>`;
}

/** A small horizontal meter (SVG, so no inline style is needed) coloured by how much of a quota is used. */
export function meter(used: number, limit: number | null): SafeHtml {
  if (limit === null) return html`<span class="muted">unlimited</span>`;
  const ratio = limit === 0 ? 1 : Math.min(1, used / limit);
  const level = ratio >= 0.9 ? 'high' : ratio >= 0.7 ? 'mid' : 'low';
  return html`<svg class="meter" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" aria-label="${formatNumber(Math.round(ratio * 1000) / 10)}% used"><rect class="track" width="100" height="8" rx="4"/><rect class="used ${level}" width="${fixed(Math.max(ratio * 100, used > 0 ? 1.5 : 0))}" height="8" rx="4"/></svg>`;
}

export const LOGO = raw(
  '<svg class="logo" viewBox="0 0 24 24" aria-hidden="true"><rect x="2" y="2" width="20" height="20" rx="6" fill="#2d5bff"/><path d="M7 12.5l3.2 3.2L17 8.8" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"/></svg>',
);
