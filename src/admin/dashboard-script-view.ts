/**
 * The dashboard's service cards, key figures, workers table and instance line, as browser
 * JavaScript (a part of DASHBOARD_SCRIPT). Rates come from the difference of two status samples
 * about a second apart: req/s from `http_requests_total`, p99 from the buckets of
 * `http_request_duration_seconds` that filled in between (interpolated as Prometheus'
 * histogram_quantile does). Plain ES2020 in a string: no backquote and no dollar-brace inside.
 */
export const VIEW_SCRIPT = String.raw`
/** The figures a card shows, by name: [name, label, how]. Other kinds show their plain numbers. */
const FIGS = [
  ['http_requests_total', 'req/s', 'rate'],
  ['http_request_duration_seconds', 'p99', 'p99'],
  ['http_requests_in_flight', 'in flight', 'value'],
  ['crosstown_queued', 'queued', 'value'],
  ['crosstown_running', 'running', 'value'],
  ['tls_connections', 'connections', 'value'],
  ['pubsub_connections', 'connections', 'value'],
  ['pubsub_deliveries_total', 'deliveries/s', 'rate'],
  ['irc_connected', 'connected', 'bool'],
  ['irc_queued_lines', 'lines queued', 'value'],
  ['raw_frames_sent_total', 'frames/s', 'rate'],
];
const isHist = (v) => v !== null && typeof v === 'object' && Array.isArray(v.counts);
/** A figure as one number: labelled values summed (every status class of http_requests_total). */
const total = (v) => (typeof v === 'number' ? v : v && !isHist(v) ? Object.values(v).reduce((a, b) => a + b, 0) : 0);
const num = (n) => Number(n).toLocaleString('en');
const rate = (x) => (x < 10 ? x.toFixed(1) : num(Math.round(x)));

/** Keeps one sample a second for the rates (a status fetched because of an event is too close). */
function sample(st) {
  const now = performance.now();
  if (S.base && now - S.base.at < 900) return;
  const cur = { at: now, figs: new Map(st.services.map((s) => [s.name, s.figures || {}])) };
  if (S.base) {
    const dt = (now - S.base.at) / 1000;
    S.rates = new Map();
    for (const [name, figs] of cur.figs) {
      const old = S.base.figs.get(name) || {};
      const r = {};
      for (const [k, v] of Object.entries(figs)) {
        if (isHist(v)) {
          const o = old[k];
          const same = isHist(o) && o.counts.length === v.counts.length && o.count <= v.count;
          r[k] = { buckets: v.buckets, counts: same ? v.counts.map((c, i) => c - o.counts[i]) : v.counts };
        } else {
          const after = total(v), before = old[k] === undefined ? 0 : total(old[k]);
          // a counter that went down belongs to a new instance: it counted from 0
          r[k] = (after >= before ? after - before : after) / dt;
        }
      }
      S.rates.set(name, r);
    }
  }
  S.base = cur;
}

/** The q-quantile of per-bucket counts, interpolated within its bucket; {over} past the last bound. */
function quantile(q, hist) {
  const all = hist.counts.reduce((a, b) => a + b, 0);
  if (!all) return null;
  const rank = q * all;
  let seen = 0;
  for (let i = 0; i < hist.counts.length; i++) {
    const c = hist.counts[i];
    if (c > 0 && seen + c >= rank) {
      if (i >= hist.buckets.length) return { value: hist.buckets[hist.buckets.length - 1], over: true };
      const lo = i === 0 ? 0 : hist.buckets[i - 1], hi = hist.buckets[i];
      return { value: lo + (hi - lo) * ((rank - seen) / c), over: false };
    }
    seen += c;
  }
  return null;
}
const secs = (s) => (s < 0.01 ? (s * 1000).toFixed(1) + ' ms' : s < 1 ? Math.round(s * 1000) + ' ms' : s.toFixed(2) + ' s');

function figureItems(svc) {
  const f = svc.figures || {}, r = S.rates.get(svc.name);
  const items = [];
  for (const [name, label, how] of FIGS) {
    if (!(name in f)) continue;
    let text;
    if (how === 'value') text = num(total(f[name]));
    else if (how === 'bool') text = total(f[name]) ? 'yes' : 'no';
    else if (!r || r[name] === undefined) text = '…';
    else if (how === 'rate') text = rate(r[name]);
    else {
      const p = quantile(0.99, r[name]);
      text = p === null ? '—' : (p.over ? '> ' : '') + secs(p.value);
    }
    items.push([label, text, name]);
  }
  if (!items.length) for (const [name, v] of Object.entries(f)) if (typeof v === 'number' && items.length < 4) items.push([name, num(v), name]);
  return items;
}

/** The card of one service, built once and updated in place (focus and outcomes survive). */
function card(svc) {
  let c = S.cards.get(svc.name);
  if (!c) {
    c = {
      kind: h('span', { class: 'kind' }), badge: h('span', { class: 'badge' }), since: h('span', { class: 'since' }),
      addr: h('p', { class: 'addr' }), figs: h('dl', { class: 'figs' }), why: h('p', { class: 'why' }), err: h('div', { class: 'last' }),
      outcome: h('p', { class: 'outcome', role: 'status', 'aria-live': 'polite' }),
    };
    c.restart = h('button', { type: 'button', text: 'Restart', 'aria-label': 'Restart ' + svc.name, onclick: () => operate(svc.name, 'restart', c) });
    c.start = h('button', { type: 'button', text: 'Start', 'aria-label': 'Start ' + svc.name, onclick: () => operate(svc.name, 'start', c) });
    c.el = h('article', { class: 'svc', 'data-service': svc.name }, [
      h('header', {}, [h('h3', { text: svc.name }), c.kind, c.badge, c.since]),
      c.addr, c.figs, c.why, c.err,
      h('div', { class: 'ops' }, [c.restart, c.start, c.outcome]),
    ]);
    S.cards.set(svc.name, c);
  }
  c.el.setAttribute('data-state', svc.state);
  c.kind.textContent = svc.kind;
  c.badge.textContent = svc.state;
  c.since.textContent = svc.since ? 'for ' + ago(svc.since) : '';
  c.addr.textContent = svc.address || '';
  c.addr.hidden = !svc.address;
  const items = figureItems(svc);
  items.push(['restarts', num(svc.restarts || 0), 'restarts']);
  c.figs.replaceChildren(...items.map(([label, text, name]) => h('div', {}, [h('dt', { text: label }), h('dd', { text, 'data-figure': name })])));
  const e = svc.lastError ? errorOf(svc.lastError) : undefined;
  let why = svc.waiting ? 'waiting for ' + svc.waiting : svc.why || '';
  if (e && why.includes(e.message)) why = '';
  if (svc.state === 'restarting' && svc.nextRestartAt) why = (why ? why + ' · ' : '') + 'next restart in ' + span(Math.max(0, (Date.parse(svc.nextRestartAt) - Date.now()) / 1000));
  c.why.textContent = why;
  c.why.hidden = !why;
  const failing = svc.state === 'failed' || svc.state === 'restarting';
  c.err.hidden = !e;
  c.err.classList.toggle('now', failing);
  if (e) c.err.replaceChildren(h('span', { class: 'label', text: failing ? 'error' : 'last error' }), errorView(e));
  // a failed service is restarted; start is for one stopped (by hendrix stop SERVICE)
  c.start.hidden = svc.state !== 'stopped';
  return c.el;
}

function renderWorkers(list) {
  $('workers').hidden = !list || !list.length;
  if (!list || !list.length) return;
  const td = (text, cls) => h('td', { text: text == null ? '—' : String(text), class: cls });
  const mib = (b) => (b == null ? '—' : (b / 1048576).toFixed(1) + ' MiB');
  $('workers-body').replaceChildren(...list.map((w) => h('tr', { 'data-worker': w.id, 'data-state': w.state }, [
    td(w.id), td(w.pid), h('td', {}, [h('span', { class: 'badge', text: w.state })]), td(mib(w.rss), 'n'), td(num(w.requests || 0), 'n'), td(num(w.restarts || 0), 'n'),
  ])));
}

function renderInstance(i) {
  const files = (i.files || []).map((f) => f.slice(f.lastIndexOf('/') + 1));
  $('instance').textContent = ['hendrix ' + i.version, 'pid ' + i.pid, 'up ' + span(i.uptimeSeconds), i.env ? 'env ' + i.env : '', i.state + (i.draining ? ' (draining)' : '')].filter(Boolean).join(' · ');
  $('manifest').textContent = files.join(' + ');
  $('fingerprint').textContent = String(i.fingerprint || '').slice(0, 12);
  $('fingerprint').title = i.fingerprint || '';
  document.title = 'hendrix · ' + (files[0] || 'dashboard');
}

/** Draws everything from the status in hand (and the transitions received since). */
function render() {
  const st = S.status;
  if (!st) return;
  renderInstance(st.instance);
  drawGraph(st);
  const list = $('services');
  const names = new Set(st.services.map((s) => s.name));
  for (const [name, c] of S.cards) if (!names.has(name)) (c.el.remove(), S.cards.delete(name));
  // appended in start order: an element already in place is moved only when the order changed
  st.services.forEach((s, i) => {
    const el = card(s);
    if (list.children[i] !== el) list.insertBefore(el, list.children[i] || null);
  });
  renderWorkers(st.instance.workers);
}
`;
