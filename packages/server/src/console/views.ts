// The console's pages, rendered on the server. Every value from a request, the database or a service goes through
// the `html` template, which escapes it; only constant markup (CSS, the script, numeric SVG) is inserted raw.
import { html, raw, type SafeHtml } from '../http/html.js';
import { barChart, compactNumber, formatNumber, LOGO, meter, type DayValue } from './chart.js';
import { CONSOLE_SCRIPT } from './client.js';

export const PRODUCT = 'Generic Corp Hub';

const CSS = `
:root{--bg:#f5f6f8;--card:#fff;--line:#e3e6ec;--text:#1b2230;--muted:#667085;--brand:#2d5bff;--brand-dark:#1f45d6;
--ok:#157f3d;--ok-bg:#e7f6ec;--err:#b42318;--err-bg:#fdecea;--warn:#a15c07;--warn-bg:#fff4e0;--info-bg:#eaf0ff}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;background:var(--bg);color:var(--text)}
a{color:var(--brand);text-decoration:none}a:hover{text-decoration:underline}
code,.mono{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.muted{color:var(--muted)}
.logo{width:26px;height:26px;flex:none}
header.top{background:#fff;border-bottom:1px solid var(--line)}
.top-inner{max-width:1160px;margin:0 auto;padding:0 28px;display:flex;align-items:center;gap:28px;height:60px}
.brand{display:flex;align-items:center;gap:10px;font-weight:700;color:var(--text);white-space:nowrap}
.brand:hover{text-decoration:none}
nav.tabs{display:flex;gap:4px;height:100%}
nav.tabs a{display:flex;align-items:center;padding:0 12px;color:var(--muted);font-weight:500;border-bottom:2px solid transparent}
nav.tabs a:hover{color:var(--text);text-decoration:none}
nav.tabs a.active{color:var(--text);border-bottom-color:var(--brand)}
.who{margin-left:auto;display:flex;align-items:center;gap:12px;font-size:14px;white-space:nowrap}
.tenant{background:var(--info-bg);color:var(--brand-dark);padding:3px 10px;border-radius:999px;font-weight:600;font-size:13px}
.who form{margin:0}
main{max-width:1160px;margin:0 auto;padding:28px;display:flex;flex-direction:column;gap:20px}
main>.msg{margin:0}
.page-head{display:flex;align-items:flex-end;justify-content:space-between;gap:16px}
h1{font-size:24px;line-height:1.25;margin:0}
h2{font-size:16px;margin:0 0 14px}
.sub{margin:4px 0 0;color:var(--muted)}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:20px;box-shadow:0 1px 2px #1018280a}
.stats{display:grid;grid-template-columns:repeat(4,1fr);gap:16px}
.stat .label{color:var(--muted);font-size:13px;font-weight:500}
.stat .value{font-size:26px;font-weight:700;margin-top:2px;letter-spacing:-.01em}
.stat .of{color:var(--muted);font-size:13px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:20px}
figure.chart{margin:0}
figcaption{display:flex;justify-content:space-between;align-items:baseline;margin-bottom:8px}
.chart-title{font-weight:600}.chart-total{color:var(--muted);font-size:13px}
figure.chart svg{width:100%;height:auto;display:block}
.grid line{stroke:#eceff3;stroke-width:1}.grid text,.tick{fill:#8a94a6;font-size:11px}
.bar .hit{fill:transparent}.bar .fill{fill:var(--brand)}.bar:hover .fill{fill:var(--brand-dark)}.bar:hover .hit{fill:#2d5bff0d}
.pace{stroke:#e8590c;stroke-width:1.5;stroke-dasharray:5 4}
.legend{display:flex;gap:16px;flex-wrap:wrap;font-size:13px;color:var(--muted);margin-top:6px}
.legend-item{display:inline-flex;align-items:center;gap:6px}
.key{display:inline-block;width:12px;height:10px;border-radius:2px}
.bar-key{background:var(--brand)}.pace-key{height:0;border-top:2px dashed #e8590c}
table{width:100%;border-collapse:collapse}
th{text-align:left;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;padding:10px 12px;border-bottom:1px solid var(--line);white-space:nowrap}
td{padding:11px 12px;border-bottom:1px solid #eff1f5;vertical-align:middle}
tbody tr:last-child td{border-bottom:0}
tbody tr:hover{background:#fafbfc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.table-card{padding:4px 8px}
.meter{width:140px;height:8px;display:block}
.meter .track{fill:#edf0f4}.meter .used.low{fill:var(--brand)}.meter .used.mid{fill:#f79009}.meter .used.high{fill:#d92d20}
.badge{display:inline-flex;align-items:center;gap:6px;padding:2px 10px;border-radius:999px;font-size:12.5px;font-weight:600;background:#eef0f4;color:#475467;white-space:nowrap}
.badge::before{content:"";width:7px;height:7px;border-radius:50%;background:currentColor}
.s-queued{background:#f2f4f7;color:#475467}.s-running{background:var(--info-bg);color:var(--brand-dark)}
.s-running::before{animation:pulse 1.2s ease-in-out infinite}
.s-succeeded,.s-active{background:var(--ok-bg);color:var(--ok)}.s-failed,.s-revoked{background:var(--err-bg);color:var(--err)}
.s-cancelled,.s-expired{background:#f2f4f7;color:#667085}.s-timed_out{background:var(--warn-bg);color:var(--warn)}
@keyframes pulse{50%{opacity:.25}}
tr.new{animation:flash 1.6s ease-out}@keyframes flash{from{background:#eaf0ff}to{background:transparent}}
.chips{display:flex;flex-wrap:wrap;gap:4px}.chip{font:12px/1.5 ui-monospace,Menlo,monospace;background:#f2f4f7;border-radius:6px;padding:1px 6px;color:#344054}
label{display:block;font-weight:600;font-size:14px;margin:0 0 14px}
input[type=text],input[type=email],input[type=password],select{display:block;width:100%;height:42px;padding:0 11px;margin-top:6px;border:1px solid #cfd4dc;border-radius:8px;font:inherit;background:#fff;color:var(--text)}
input:focus,select:focus,button:focus-visible{outline:3px solid #2d5bff33;border-color:var(--brand)}
fieldset{border:0;padding:0;margin:0 0 14px}legend{font-weight:600;font-size:14px;margin-bottom:6px}
.checks{display:grid;grid-template-columns:1fr 1fr;gap:6px 14px}
.checks label{display:flex;align-items:center;gap:8px;font-weight:400;margin:0;font:13px ui-monospace,Menlo,monospace}
button,.btn{display:inline-flex;align-items:center;justify-content:center;gap:6px;min-height:42px;padding:0 16px;border:1px solid transparent;border-radius:8px;background:var(--brand);color:#fff;font:inherit;font-weight:600;cursor:pointer;white-space:nowrap}
button:hover{background:var(--brand-dark)}
button.secondary{background:#fff;color:var(--text);border-color:#cfd4dc}button.secondary:hover{background:#f5f6f8}
button.danger{background:#fff;color:var(--err);border-color:#f1b5ae;min-height:32px;padding:0 12px;font-size:13px}button.danger:hover{background:var(--err-bg)}
button.link{background:none;border:0;color:var(--muted);min-height:0;padding:0;font-weight:500}button.link:hover{color:var(--text);background:none;text-decoration:underline}
.row{display:flex;gap:10px}.row>*{flex:1}
.msg{padding:11px 14px;border-radius:10px;margin:0 0 18px;border:1px solid transparent}
.msg.error{background:var(--err-bg);color:var(--err);border-color:#f6cbc6}.msg.ok{background:var(--ok-bg);color:var(--ok);border-color:#bfe5cc}
.msg.info{background:var(--info-bg);color:var(--brand-dark);border-color:#cdd9ff}
.secret{display:flex;gap:8px;margin-top:10px}.secret input{margin:0;font:13px ui-monospace,Menlo,monospace;background:#f8fafc}
.create-grid{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,1fr) auto;gap:16px;align-items:end}
.create-grid label{margin:0}
fieldset.scopes{margin:18px 0 0}.checks{grid-template-columns:repeat(4,minmax(0,1fr))}
td.nowrap{white-space:nowrap}
#keys{table-layout:fixed}#keys .c-name{width:26%}#keys .scopes{width:25%}#keys .c-date{width:11%}#keys .c-used{width:16%}#keys .c-status{width:10%}#keys .c-act{width:96px}
#keys code{overflow-wrap:anywhere;font-size:12px}
.card>:last-child{margin-bottom:0}
.toolbar{display:flex;align-items:center;justify-content:space-between;gap:12px;padding:12px}
.pager{display:flex;justify-content:flex-end;gap:16px;padding:12px;border-top:1px solid var(--line)}
.filters{display:flex;gap:6px;flex-wrap:wrap}
.filters a{padding:5px 12px;border-radius:999px;border:1px solid var(--line);background:#fff;color:var(--muted);font-size:13px;font-weight:500}
.filters a.active{background:var(--text);border-color:var(--text);color:#fff}.filters a:hover{text-decoration:none;border-color:#b8c0cc}
#live{display:inline-flex;align-items:center;gap:6px;font-size:13px;color:var(--muted)}
#live .dot{width:8px;height:8px;border-radius:50%;background:#12b76a}
#live[data-state=live] .dot{animation:pulse 1.6s ease-in-out infinite}
#live[data-state=idle] .dot{background:#98a2b3}#live[data-state=retrying] .dot{background:#f79009}#live[data-state=expired] .dot{background:#d92d20}
.empty{text-align:center;color:var(--muted);padding:36px 12px}
.narrow{max-width:560px}
.card-title{font-size:20px;margin-bottom:14px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
.code-input{font:20px ui-monospace,Menlo,monospace!important;letter-spacing:.12em;text-transform:uppercase}
body.auth{display:grid;place-items:center;min-height:100vh;padding:24px}
.auth-card{width:min(400px,100%)}
.auth-brand{display:flex;align-items:center;justify-content:center;gap:10px;font-weight:700;font-size:18px;margin-bottom:18px}
.auth-card .card{padding:28px}
.auth-card h1{font-size:20px;margin-bottom:4px}.auth-card .sub{margin-bottom:20px}
.auth-card button[type=submit]{width:100%;margin-top:6px}
.tenants{display:grid;gap:8px}.tenants .muted{font-weight:500;font-size:13px}.tenants button{justify-content:space-between;background:#fff;color:var(--text);border-color:#cfd4dc}
.tenants button:hover{border-color:var(--brand);background:#f7f9ff}
.foot{text-align:center;color:var(--muted);font-size:13px;margin-top:16px}
@media (max-width:900px){.stats{grid-template-columns:1fr 1fr}.grid2,.create-grid{grid-template-columns:1fr}.checks{grid-template-columns:1fr 1fr}.top-inner{gap:14px;padding:0 16px}.who .email{display:none}main{padding:20px 16px}}
`;

export type Tab = 'usage' | 'runs' | 'keys' | 'device';

export interface Viewer {
  email: string;
  tenantName: string;
  role: string;
  /** The session-bound anti-CSRF token for this page's forms. */
  csrf: string;
  canManageKeys: boolean;
}

export interface Notice {
  kind: 'error' | 'ok' | 'info';
  text: string;
}

export const notice = (n: Notice | undefined): SafeHtml | '' =>
  n ? html`<p class="msg ${n.kind}" role="${n.kind === 'error' ? 'alert' : 'status'}">${n.text}</p>` : '';

function document(title: string, nonce: string, bodyClass: string, content: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin"><link rel="icon" href="data:,"><title>${title} · ${PRODUCT}</title>
<style nonce="${nonce}">${raw(CSS)}</style></head>
<body class="${bodyClass}">${content}<script nonce="${nonce}">${raw(CONSOLE_SCRIPT)}</script></body></html>`;
}

const csrfField = (token: string) => html`<input type="hidden" name="csrf" value="${token}">`;

/** A page of the signed-in console: header with the tabs, the tenant and the person, then the content. */
export function layout(opts: { title: string; tab: Tab | null; viewer: Viewer; nonce: string; content: SafeHtml }): SafeHtml {
  const { viewer } = opts;
  const tab = (id: Tab, href: string, label: string) =>
    html`<a href="${href}" class="${opts.tab === id ? 'active' : ''}"${opts.tab === id ? raw(' aria-current="page"') : ''}>${label}</a>`;
  return document(
    opts.title,
    opts.nonce,
    'app',
    html`<header class="top"><div class="top-inner">
<a class="brand" href="/console">${LOGO}<span>${PRODUCT}</span></a>
<nav class="tabs" aria-label="Console">${tab('usage', '/console', 'Usage')}${tab('runs', '/console/runs', 'Runs')}${viewer.canManageKeys ? tab('keys', '/console/keys', 'API keys') : ''}${tab('device', '/console/device', 'Approve device')}</nav>
<div class="who"><span class="tenant" title="Tenant">${viewer.tenantName}</span><span class="email muted" title="${viewer.role}">${viewer.email}</span>
<form method="post" action="/console/logout">${csrfField(viewer.csrf)}<button class="link" type="submit">Sign out</button></form></div>
</div></header>
<main>${opts.content}</main>`,
  );
}

// ---- sign-in -------------------------------------------------------------------------------------------------

export interface LoginState {
  csrf: string;
  nonce: string;
  email?: string;
  next?: string;
  notice?: Notice;
}

export function loginPage(s: LoginState): SafeHtml {
  return document(
    'Sign in',
    s.nonce,
    'auth',
    html`<div class="auth-card"><div class="auth-brand">${LOGO}<span>${PRODUCT}</span></div>
<div class="card"><h1>Sign in to the console</h1><p class="sub">Use the email and password of your hub account.</p>
${notice(s.notice)}
<form method="post" action="/console/login">${csrfField(s.csrf)}${s.next ? html`<input type="hidden" name="next" value="${s.next}">` : ''}
<label>Email<input type="email" name="email" required autocomplete="username" autofocus value="${s.email ?? ''}"></label>
<label>Password<input type="password" name="password" required autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></div>
<p class="foot">Approving a device without a console session? Use <a href="/device">/device</a>.</p></div>`,
  );
}

export function tenantChoicePage(s: {
  csrf: string;
  nonce: string;
  preauth: string;
  next?: string;
  email: string;
  tenants: { id: string; name: string; role: string }[];
}): SafeHtml {
  return document(
    'Choose a tenant',
    s.nonce,
    'auth',
    html`<div class="auth-card"><div class="auth-brand">${LOGO}<span>${PRODUCT}</span></div>
<div class="card"><h1>Choose a tenant</h1><p class="sub">${s.email} belongs to several tenants. Which one do you want to work in?</p>
<form method="post" action="/console/login">${csrfField(s.csrf)}<input type="hidden" name="preauth" value="${s.preauth}">${s.next ? html`<input type="hidden" name="next" value="${s.next}">` : ''}
<div class="tenants">${s.tenants.map((t) => html`<button type="submit" name="tenant_id" value="${t.id}"><span>${t.name}</span><span class="muted">${t.role}</span></button>`)}</div>
</form></div><p class="foot"><a href="/console/login">Use another account</a></p></div>`,
  );
}

// ---- usage ---------------------------------------------------------------------------------------------------

export interface Quota {
  name: string;
  limit: number | null;
  used: number;
  remaining: number | null;
}

export interface UsageData {
  plan: string;
  periodStart: string;
  periodEnd: string;
  usage: { runs: number; input_tokens: number; output_tokens: number; run_seconds: number; concurrent_runs: number };
  quotas: Quota[];
  runsPerDay: DayValue[];
  tokensPerDay: DayValue[];
}

const QUOTA_LABELS: Record<string, string> = {
  runs_per_period: 'Runs this period',
  concurrent_runs: 'Concurrent runs',
  tokens_per_period: 'Tokens this period',
  requests_per_minute: 'API requests per minute',
};

const longDate = (iso: string) =>
  new Date(iso).toLocaleDateString('en-US', { timeZone: 'UTC', year: 'numeric', month: 'short', day: 'numeric' });

function duration(seconds: number): string {
  if (seconds < 60) return `${formatNumber(Math.round(seconds * 10) / 10)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function usagePage(viewer: Viewer, nonce: string, u: UsageData): SafeHtml {
  const quota = (name: string) => u.quotas.find((q) => q.name === name);
  const runsQ = quota('runs_per_period');
  const tokensQ = quota('tokens_per_period');
  const concQ = quota('concurrent_runs');
  const periodDays = Math.round((Date.parse(u.periodEnd) - Date.parse(u.periodStart)) / 86_400_000);
  const pace = (q: Quota | undefined) => (q && q.limit !== null ? q.limit / periodDays : null);
  const daysLeft = Math.max(0, Math.ceil((Date.parse(u.periodEnd) - Date.now()) / 86_400_000));
  const tokens = u.usage.input_tokens + u.usage.output_tokens;
  const stat = (label: string, value: string, of: string) =>
    html`<div class="card stat"><div class="label">${label}</div><div class="value">${value}</div><div class="of">${of}</div></div>`;
  const ofLimit = (q: Quota | undefined) => (q && q.limit !== null ? `of ${formatNumber(q.limit)}` : 'no limit');
  const content = html`<div class="page-head"><div><h1>Usage</h1>
<p class="sub">Plan <strong>${u.plan}</strong> · period ${longDate(u.periodStart)} – ${longDate(new Date(Date.parse(u.periodEnd) - 1).toISOString())} · resets ${longDate(u.periodEnd)} (in ${daysLeft} ${daysLeft === 1 ? 'day' : 'days'})</p></div></div>
<section class="stats" aria-label="This period">
${stat('Runs this period', formatNumber(u.usage.runs), ofLimit(runsQ))}
${stat('Tokens this period', compactNumber(tokens), `${formatNumber(u.usage.input_tokens)} in · ${formatNumber(u.usage.output_tokens)} out`)}
${stat('Agent run time', duration(u.usage.run_seconds), 'this period')}
${stat('Running now', formatNumber(u.usage.concurrent_runs), concQ && concQ.limit !== null ? `of ${formatNumber(concQ.limit)} at once` : 'no limit')}
</section>
<div class="grid2">
<section class="card">${barChart(u.runsPerDay, { title: 'Runs per day', unit: 'runs', pace: pace(runsQ) })}</section>
<section class="card">${barChart(u.tokensPerDay, { title: 'Tokens per day', unit: 'tokens', pace: pace(tokensQ) })}</section>
</div>
<section class="card table-card" aria-labelledby="quotas-h"><h2 id="quotas-h" class="sr">Quotas</h2>
<table id="quotas"><thead><tr><th>Quota</th><th class="num">Used</th><th class="num">Limit</th><th class="num">Remaining</th><th>Usage</th><th>Resets</th></tr></thead><tbody>
${u.quotas.map((q) => {
  const label = QUOTA_LABELS[q.name] ?? q.name;
  const perPeriod = q.name.endsWith('_per_period');
  return html`<tr data-quota="${q.name}"><td><div>${label}</div><div class="muted mono">${q.name}</div></td>
<td class="num">${formatNumber(q.used)}</td><td class="num">${q.limit === null ? 'unlimited' : formatNumber(q.limit)}</td>
<td class="num">${q.remaining === null ? '—' : formatNumber(q.remaining)}</td><td>${meter(q.used, q.limit)}</td>
<td class="muted">${perPeriod ? longDate(u.periodEnd) : q.name === 'requests_per_minute' ? 'every minute' : 'as runs finish'}</td></tr>`;
})}
</tbody></table></section>`;
  return layout({ title: 'Usage', tab: 'usage', viewer, nonce, content });
}

// ---- runs ----------------------------------------------------------------------------------------------------

export interface RunRowView {
  id: string;
  agent: string;
  status: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  usage: { input_tokens: number; output_tokens: number; run_seconds: number };
}

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;

export const formatTime = (iso: string | null): string => (iso ? `${iso.slice(0, 19).replace('T', ' ')} UTC` : '—');

function runDuration(r: RunRowView): string {
  if (!r.started_at) return '—';
  if (!r.finished_at) return 'running';
  const s = (Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

const statusLabel = (s: string) => (s === 'timed_out' ? 'timed out' : s);

export function runsPage(
  viewer: Viewer,
  nonce: string,
  r: { runs: RunRowView[]; status?: string; cursor?: string; nextCursor: string | null; pageSize: number },
): SafeHtml {
  const first = !r.cursor;
  const filterHref = (s?: string) => (s ? `/console/runs?status=${s}` : '/console/runs');
  const filters = html`<nav class="filters" aria-label="Filter by status"><a href="${filterHref()}" class="${r.status ? '' : 'active'}">All</a>${RUN_STATUSES.map(
    (s) => html`<a href="${filterHref(s)}" class="${r.status === s ? 'active' : ''}">${statusLabel(s)}</a>`,
  )}</nav>`;
  const rows = r.runs.map(
    (run) => html`<tr data-run="${run.id}" data-status="${run.status}"><td data-col="id"><code>${run.id}</code></td><td data-col="agent">${run.agent}</td>
<td data-col="status"><span class="badge s-${run.status}">${statusLabel(run.status)}</span></td><td data-col="created" class="nowrap">${formatTime(run.created_at)}</td>
<td data-col="duration">${runDuration(run)}</td><td data-col="tokens" class="num">${formatNumber(run.usage.input_tokens)} / ${formatNumber(run.usage.output_tokens)}</td></tr>`,
  );
  const more = new URLSearchParams();
  if (r.status) more.set('status', r.status);
  if (r.nextCursor) more.set('cursor', r.nextCursor);
  const pager = first && !r.nextCursor
    ? ''
    : html`<div class="pager">${first ? '' : html`<a href="${filterHref(r.status)}">← Newest</a>`}${r.nextCursor ? html`<a href="/console/runs?${more.toString()}">Older runs →</a>` : ''}</div>`;
  const content = html`<div class="page-head"><div><h1>Runs</h1><p class="sub">The newest runs of ${viewer.tenantName}; statuses update live.</p></div></div>
<p class="msg error" id="expired" role="alert" hidden>Your session has expired, so statuses stopped updating. <a href="/console/login?reason=expired&amp;next=%2Fconsole%2Fruns">Sign in again</a>.</p>
<div class="card table-card"><div class="toolbar">${filters}<span id="live" data-state="live" aria-live="polite"><i class="dot"></i><span>Live</span></span></div>
<table id="runs" data-first-page="${first ? '1' : '0'}" data-status="${r.status ?? ''}" data-page-size="${r.pageSize}"><thead><tr><th>Run</th><th>Agent</th><th>Status</th><th>Created</th><th>Duration</th><th class="num">Tokens in / out</th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr id="runs-empty"><td colspan="6" class="empty">${r.status ? `No ${statusLabel(r.status)} runs.` : 'No runs yet. Start one with the CLI (gcorp run echo --input \'{"message":"hi"}\') or the API.'}</td></tr>`}</tbody></table>
${pager}</div>`;
  return layout({ title: 'Runs', tab: 'runs', viewer, nonce, content });
}

// ---- API keys ------------------------------------------------------------------------------------------------

export interface KeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface KeysState {
  keys: KeyView[];
  grantable: string[];
  created?: { name: string; key: string };
  notice?: Notice;
  form?: { name?: string; scopes?: string[]; expires?: string };
}

const DEFAULT_SCOPES = ['runs:read', 'runs:write', 'agents:read'];

function keyStatus(k: KeyView): 'active' | 'revoked' | 'expired' {
  if (k.revoked_at) return 'revoked';
  if (k.expires_at && Date.parse(k.expires_at) <= Date.now()) return 'expired';
  return 'active';
}

export function keysPage(viewer: Viewer, nonce: string, s: KeysState): SafeHtml {
  const chosen = new Set(s.form?.scopes ?? DEFAULT_SCOPES);
  const expiry = s.form?.expires ?? '90';
  const created = s.created
    ? html`<section class="card" id="created" aria-labelledby="created-h"><h2 id="created-h">Key “${s.created.name}” created</h2>
<p class="msg ok" role="status">Copy this key now and store it somewhere safe: it will not be shown again.</p>
<div class="secret"><input type="text" id="new-key" readonly value="${s.created.key}" aria-label="The new API key"><button type="button" class="secondary" data-copy="new-key">Copy</button></div></section>`
    : '';
  const rows = s.keys.map((k) => {
    const status = keyStatus(k);
    return html`<tr data-key="${k.id}"><td><div><strong>${k.name}</strong></div><code class="muted">${k.prefix}…</code></td>
<td class="scopes"><div class="chips">${k.scopes.map((sc) => html`<span class="chip">${sc}</span>`)}</div></td>
<td class="nowrap">${formatTime(k.created_at).slice(0, 10)}</td><td class="nowrap">${k.last_used_at ? formatTime(k.last_used_at).slice(0, 16) : html`<span class="muted">never</span>`}</td>
<td class="nowrap">${k.expires_at ? formatTime(k.expires_at).slice(0, 10) : html`<span class="muted">never</span>`}</td>
<td><span class="badge s-${status}">${status}</span></td>
<td>${status === 'active' ? html`<form method="post" action="/console/keys/revoke" data-confirm="Revoke the key “${k.name}”? Anything using it stops working at once.">${csrfField(viewer.csrf)}<input type="hidden" name="id" value="${k.id}"><button type="submit" class="danger">Revoke</button></form>` : ''}</td></tr>`;
  });
  const content = html`<div class="page-head"><div><h1>API keys</h1><p class="sub">Keys let programs and CI call the hub as ${viewer.tenantName}. The secret is shown once, at creation.</p></div></div>
${notice(s.notice)}${created}
<section class="card" aria-labelledby="create-h"><h2 id="create-h">Create a key</h2>
<form method="post" action="/console/keys" id="create-key">${csrfField(viewer.csrf)}
<div class="create-grid"><label>Name<input type="text" name="name" required maxlength="100" placeholder="ci-pipeline" value="${s.form?.name ?? ''}"></label>
<label>Expires<select name="expires_in_days">${[
    ['30', 'in 30 days'],
    ['90', 'in 90 days'],
    ['365', 'in 1 year'],
    ['', 'never'],
  ].map(([v, l]) => html`<option value="${v!}"${expiry === v ? raw(' selected') : ''}>${l!}</option>`)}</select></label>
<button type="submit">Create key</button></div>
<fieldset class="scopes"><legend>Scopes</legend><div class="checks">${s.grantable.map(
    (sc) => html`<label><input type="checkbox" name="scopes" value="${sc}"${chosen.has(sc) ? raw(' checked') : ''}>${sc}</label>`,
  )}</div></fieldset></form></section>
<section class="card table-card"><table id="keys"><thead><tr><th class="c-name">Name</th><th class="scopes">Scopes</th><th class="c-date">Created</th><th class="c-used">Last used</th><th class="c-date">Expires</th><th class="c-status">Status</th><th class="c-act"><span class="sr">Actions</span></th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td colspan="7" class="empty">No API keys yet.</td></tr>`}</tbody></table></section>`;
  return layout({ title: 'API keys', tab: 'keys', viewer, nonce, content });
}

// ---- device --------------------------------------------------------------------------------------------------

export function devicePage(viewer: Viewer, nonce: string, s: { userCode?: string; notice?: Notice; done?: boolean }): SafeHtml {
  const form = s.done
    ? html`<p><a href="/console/device">Approve another device</a></p>`
    : html`<form method="post" action="/console/device">${csrfField(viewer.csrf)}
<label>Code shown by the device<input type="text" name="user_code" class="code-input" required autocomplete="off" spellcheck="false" placeholder="XXXX-XXXX" maxlength="32" value="${s.userCode ?? ''}"></label>
<div class="row"><button type="submit" name="action" value="approve">Approve</button><button type="submit" name="action" value="deny" class="secondary">Deny</button></div></form>`;
  const content = html`<div class="page-head"><div><h1>Approve a device</h1><p class="sub">Sign in a device (such as the <code>gcorp</code> CLI) as ${viewer.email} in ${viewer.tenantName}.</p></div></div>
<section class="card narrow">${notice(s.notice ?? { kind: 'info', text: 'Check that the code matches the one your device shows before you approve it.' })}${form}</section>`;
  return layout({ title: 'Approve a device', tab: 'device', viewer, nonce, content });
}

// ---- refusals ------------------------------------------------------------------------------------------------

/** A page that only explains (403, 404, 400 outside a form), inside the console frame when someone is signed in. */
export function messagePage(viewer: Viewer | null, nonce: string, title: string, n: Notice, back?: { href: string; label: string }): SafeHtml {
  const body = html`<section class="card narrow"><h1 class="card-title">${title}</h1>${notice(n)}${back ? html`<p><a href="${back.href}">${back.label}</a></p>` : ''}</section>`;
  if (viewer) return layout({ title, tab: null, viewer, nonce, content: body });
  return document(title, nonce, 'auth', html`<div class="auth-card"><div class="auth-brand">${LOGO}<span>${PRODUCT}</span></div>${body}</div>`);
}
