// The console's only script (about 3 KB, inline with the page's CSP nonce): live run statuses on the runs page,
// confirmation before destructive forms, and the copy button for a new key. The DOM is built with textContent,
// never innerHTML, so run data cannot inject markup. Indentation is stripped when the module loads (no string or
// template in the script spans lines, so that changes nothing else).
const SOURCE = String.raw`(() => {
  'use strict';
  for (const form of document.querySelectorAll('form[data-confirm]')) {
    form.addEventListener('submit', (e) => { if (!confirm(form.dataset.confirm)) e.preventDefault(); });
  }
  for (const btn of document.querySelectorAll('[data-copy]')) {
    btn.addEventListener('click', async () => {
      const input = document.getElementById(btn.dataset.copy);
      input.select();
      try { await navigator.clipboard.writeText(input.value); } catch { document.execCommand('copy'); }
      btn.textContent = 'Copied';
      setTimeout(() => { btn.textContent = 'Copy'; }, 2000);
    });
  }

  const table = document.getElementById('runs');
  if (!table) return;
  const body = table.tBodies[0];
  const live = document.getElementById('live');
  const firstPage = table.dataset.firstPage === '1';
  const filter = table.dataset.status || '';
  const pageSize = Number(table.dataset.pageSize) || 25;
  const TERMINAL = ['succeeded', 'failed', 'cancelled', 'timed_out'];
  const LABEL = { timed_out: 'timed out' };
  const num = new Intl.NumberFormat('en-US');
  let delay = 2000;
  let stopped = false;

  const time = (iso) => (iso ? iso.slice(0, 19).replace('T', ' ') + ' UTC' : '—');
  const duration = (r) => {
    if (!r.started_at) return '—';
    const end = r.finished_at ? Date.parse(r.finished_at) : NaN;
    if (Number.isNaN(end)) return 'running';
    const s = (end - Date.parse(r.started_at)) / 1000;
    return s < 60 ? s.toFixed(1) + ' s' : Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
  };
  const setLive = (state, text) => { live.dataset.state = state; live.lastChild.textContent = text; };

  function cell(tr, name) {
    let td = tr.querySelector('[data-col="' + name + '"]');
    if (!td) {
      td = document.createElement('td');
      td.dataset.col = name;
      td.className = name === 'created' ? 'nowrap' : name === 'tokens' ? 'num' : '';
      tr.appendChild(td);
    }
    return td;
  }
  function fill(tr, r) {
    tr.dataset.run = r.id;
    tr.dataset.status = r.status;
    const id = cell(tr, 'id');
    if (!id.firstChild) { const code = document.createElement('code'); code.textContent = r.id; id.appendChild(code); }
    cell(tr, 'agent').textContent = r.agent;
    const st = cell(tr, 'status');
    let badge = st.firstElementChild;
    if (!badge) { badge = document.createElement('span'); st.appendChild(badge); }
    badge.className = 'badge s-' + r.status;
    badge.textContent = LABEL[r.status] || r.status;
    cell(tr, 'created').textContent = time(r.created_at);
    cell(tr, 'duration').textContent = duration(r);
    cell(tr, 'tokens').textContent = num.format(r.usage.input_tokens) + ' / ' + num.format(r.usage.output_tokens);
  }
  function merge(runs) {
    const rows = new Map([...body.rows].filter((tr) => tr.dataset.run).map((tr) => [tr.dataset.run, tr]));
    for (const r of runs) {
      let tr = rows.get(r.id);
      if (!tr) {
        if (!firstPage) continue;
        tr = document.createElement('tr');
        tr.className = 'new';
        const before = [...body.rows].find((x) => x.dataset.run && x.dataset.run < r.id);
        body.insertBefore(tr, before || null);
        rows.set(r.id, tr);
        const empty = document.getElementById('runs-empty');
        if (empty) empty.remove();
      }
      fill(tr, r);
    }
    const all = [...body.rows].filter((tr) => tr.dataset.run);
    for (const tr of all.slice(pageSize)) tr.remove();
  }
  async function tick() {
    if (stopped) return;
    if (document.hidden) return schedule();
    let url = '/console/runs.json?limit=' + pageSize + (filter ? '&status=' + encodeURIComponent(filter) : '');
    if (!firstPage) {
      const open = [...body.rows].filter((tr) => tr.dataset.run && !TERMINAL.includes(tr.dataset.status));
      if (open.length === 0) { setLive('idle', 'Up to date'); return; }
      url = '/console/runs.json?ids=' + open.map((tr) => tr.dataset.run).join(',');
    }
    try {
      const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (res.status === 401) {
        stopped = true;
        setLive('expired', 'Session expired');
        document.getElementById('expired').hidden = false;
        return;
      }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      merge((await res.json()).data);
      delay = 2000;
      setLive('live', 'Live');
    } catch {
      delay = Math.min(delay * 2, 30000);
      setLive('retrying', 'Reconnecting…');
    }
    schedule();
  }
  function schedule() { setTimeout(tick, delay); }
  document.addEventListener('visibilitychange', () => { if (!document.hidden && !stopped) { delay = 2000; } });
  schedule();
})();`;

export const CONSOLE_SCRIPT = SOURCE.replace(/\n\s+/g, '\n');
