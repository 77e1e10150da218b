import { ACTIONS_SCRIPT } from './dashboard-script-actions.js';
import { GRAPH_SCRIPT } from './dashboard-script-graph.js';
import { VIEW_SCRIPT } from './dashboard-script-view.js';

/**
 * The core of the dashboard's browser JavaScript: DOM and time helpers, the admin API calls (all
 * by relative URL — `status`, `events` — so the page works wherever it is served: the control
 * socket through `hendrix dashboard`, or the TCP admin listener), and the live state: `GET
 * status` once a second for the figures, `EventSource('events')` for every transition as it
 * happens. A status overtaken by transitions that arrived meanwhile has them applied again (the
 * status says the id of its newest event), so a node never flips back to a stale state.
 */
const CORE_SCRIPT = String.raw`
'use strict';
const $ = (id) => document.getElementById(id);
const S = { status: null, recent: [], base: null, rates: new Map(), cards: new Map(), nodes: new Map(), graphKey: '' };

/** An element (an SVG one for 'svg:tag') with attributes, 'text' and 'onclick'; children appended. */
function h(tag, attrs, kids) {
  const el = tag.startsWith('svg:') ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k === 'onclick') el.addEventListener('click', v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids || []) if (kid != null) el.append(kid);
  return el;
}

/** 12s, 3m, 2h, 4d: as hendrix status says it. */
function span(s) {
  if (!isFinite(s)) return '';
  return s < 60 ? Math.floor(s) + 's' : s < 3600 ? Math.floor(s / 60) + 'm' : s < 86400 ? Math.floor(s / 3600) + 'h' : Math.floor(s / 86400) + 'd';
}
const ago = (iso) => span(Math.max(0, (Date.now() - Date.parse(iso)) / 1000));

/** An error of any shape the API sends (AdminError, ErrorJson, a string) as {code, message, at}: the hint is left to the CLI. */
function errorOf(e) {
  if (typeof e === 'string') return { message: e };
  if (!e || typeof e !== 'object') return { message: String(e) };
  const base = S.status && S.status.instance.files && S.status.instance.files[0];
  const dir = base ? base.slice(0, base.lastIndexOf('/') + 1) : '';
  const file = e.file && dir && e.file.startsWith(dir) ? e.file.slice(dir.length) : e.file;
  const at = e.at || (file ? file + (e.line ? ':' + e.line + (e.column ? ':' + e.column : '') : '') : undefined);
  return { code: e.code, message: e.message || '', at };
}
function errorView(e) {
  return h('span', { class: 'err' }, [
    e.code ? h('code', { text: e.code }) : null, e.code ? ' ' : null,
    h('span', { class: 'msg', text: e.message }),
    e.at ? h('span', { class: 'at', text: ' (' + e.at + ')' }) : null,
  ]);
}

/** One admin API call; a failure comes back as the errors the instance gave (or why it could not). */
async function call(method, url) {
  let res;
  try {
    res = await fetch(url, { method, cache: 'no-store', headers: { accept: 'application/json' } });
  } catch (e) {
    return { ok: false, errors: [{ message: 'the instance cannot be reached (' + e.message + ')' }] };
  }
  let body;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (res.ok) return { ok: true, body };
  const list = body && Array.isArray(body.errors) && body.errors.length ? body.errors : body && body.error ? [body.error] : [{ message: 'the instance answered ' + res.status }];
  return { ok: false, errors: list.map(errorOf) };
}

let fetching = false, again = false;
/** Fetches the status; a call while one is under way makes one more fetch after it, not many. */
async function refresh() {
  if (fetching) return void (again = true);
  fetching = true;
  const r = await call('GET', 'status');
  fetching = false;
  if (r.ok && r.body && Array.isArray(r.body.services)) {
    apply(r.body);
    conn('');
  } else conn(r.ok ? 'the instance answered an unexpected status' : r.errors[0].message);
  if (again) (again = false), refresh();
}

function conn(text) {
  $('conn').textContent = text;
  $('conn').hidden = !text;
}

/** Overlays one transition on the status in hand. */
function overlay(ev) {
  const s = S.status.services.find((x) => x.name === ev.data.service);
  if (!s || typeof ev.data.to !== 'string') return;
  s.state = ev.data.to;
  s.since = ev.time || new Date().toISOString();
  if (ev.data.error) s.lastError = ev.data.error;
  if (s.state === 'restarting' && typeof ev.data.delay === 'number') s.nextRestartAt = new Date(Date.now() + ev.data.delay).toISOString();
}

function apply(st) {
  const last = Number(st.lastEventId) || 0;
  S.recent = S.recent.filter((ev) => ev.id > last).slice(-50);
  S.status = st;
  for (const ev of S.recent) overlay(ev);
  sample(st);
  render();
}

/** An SSE message's payload: the AdminEvent's data (or the message itself), its id and time. */
function eventOf(msg) {
  let d;
  try {
    d = JSON.parse(msg.data);
  } catch {
    return undefined;
  }
  const wrapped = d && typeof d.type === 'string' && d.data && typeof d.data === 'object';
  return { id: Number(msg.lastEventId) || 0, time: wrapped ? d.time : undefined, data: wrapped ? d.data : d || {} };
}

function live(on, text) {
  $('live').textContent = text;
  $('live').setAttribute('data-live', String(on));
}

function connect() {
  const es = new EventSource('events');
  es.addEventListener('open', () => {
    live(true, 'live');
    refresh();
  });
  es.addEventListener('error', () => {
    live(false, 'reconnecting…');
    // the browser retries by itself (sending Last-Event-ID) unless the answer closed the stream for good
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
  });
  es.addEventListener('transition', (msg) => {
    const ev = eventOf(msg);
    if (!ev) return;
    S.recent.push(ev);
    if (S.status) {
      overlay(ev);
      render();
    }
    // the whole story (why, last error with its place) comes with the status
    refresh();
  });
  for (const type of ['waiting', 'reload', 'operation', 'worker', 'instance', 'reset']) es.addEventListener(type, () => refresh());
}
`;

const INIT_SCRIPT = String.raw`
connect();
refresh();
// the figures once a second; a hidden tab asks nothing until it is shown again
setInterval(() => document.hidden || refresh(), 1000);
document.addEventListener('visibilitychange', () => document.hidden || refresh());
`;

/**
 * The script as the page ships it: without indentation, blank lines and whole-line comments
 * (a sixth of its size; the comments are for whoever reads this source, not for the browser).
 * Safe on this code: it has no template literal, so no line is inside a multi-line string.
 */
function slim(code: string): string {
  return code
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('//') && !(line.startsWith('/**') && line.endsWith('*/')))
    .join('\n');
}

/** The dashboard's browser JavaScript, whole: inlined into the page, allowed by its hash in the CSP. */
export const DASHBOARD_SCRIPT = `(() => {\n${slim(CORE_SCRIPT + GRAPH_SCRIPT + VIEW_SCRIPT + ACTIONS_SCRIPT + INIT_SCRIPT)}\n})();\n`;
