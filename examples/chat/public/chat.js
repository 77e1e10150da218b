// The chat page: the hub's JSON protocol (docs/pubsub-protocol.md) over the browser's WebSocket.
// - A fresh page (first visit or reload) asks for everything the hub keeps, so the room shows
//   its recent history; a reconnect resumes with `since` the last message seen.
// - Nothing typed is dropped: a message waits in the outbox (kept across reloads) until the hub
//   acks it, and says so; a refusal is shown with retry/discard.
// - While offline the page counts the next reconnect down.
'use strict';
const room = (location.hash.slice(1) || 'lobby').replace(/[^\w-]/g, '');
const topic = `chat.${room}`;
const hubUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/hub`;
const $ = (id) => document.getElementById(id);
$('room').textContent = topic;

const lastIdKey = `hendrix-chat:last:${topic}`;
const outboxKey = `hendrix-chat:outbox:${topic}`;
let lastId = sessionStorage.getItem(lastIdKey);
const lastBeforeLoad = lastId; // where this tab was before a reload: a divider goes after it
let user = localStorage.getItem('hendrix-chat:user');
const shown = new Set();
/** Messages typed and not yet acked by the hub: { cid, user, text, state, why }. */
let outbox = JSON.parse(sessionStorage.getItem(outboxKey) ?? '[]');
let ws;
let subscribed = false;
let fresh = true; // no subscription yet on this page: replay the whole history
let replayed = 0;
let dividerNext = false;
let retryMs = 1000;
let retryAt = 0;
let retryTimer;
let ticker;

const epochOf = (id) => id.slice(0, id.lastIndexOf(':'));
const time = (ts) => new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const atBottom = () => { const s = $('scroll'); return s.scrollHeight - s.scrollTop - s.clientHeight < 60; };
const toBottom = () => { const s = $('scroll'); s.scrollTop = s.scrollHeight; };

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}
function note(text, cls = '') {
  const stick = atBottom();
  $('log').append(el('li', `note ${cls}`, text));
  if (stick) toBottom();
}

function show(frame) {
  if (shown.has(frame.id)) return;
  shown.add(frame.id);
  if (dividerNext) note('new since you were last here', 'divider');
  dividerNext = fresh && frame.id === lastBeforeLoad;
  const stick = atBottom();
  const li = el('li', frame.data.user === user ? 'msg mine' : 'msg');
  li.dataset.id = frame.id;
  li.append(el('span', 'time', time(frame.ts)), el('span', 'user', frame.data.user), el('span', 'text', frame.data.text));
  $('log').append(li);
  lastId = frame.id;
  sessionStorage.setItem(lastIdKey, lastId);
  if (frame.data.cid) settle(frame.data.cid);
  if (stick) toBottom();
}

// ---- the outbox -------------------------------------------------------------------------
const LABEL = {
  offline: 'queued — will be sent when the connection is back',
  sending: 'sending…',
  unconfirmed: 'the connection dropped before the hub confirmed it — will resend unless it arrived',
  unavailable: 'the hub could not take it just now — will retry',
};
function save() {
  sessionStorage.setItem(outboxKey, JSON.stringify(outbox));
  const waiting = outbox.filter((m) => m.state !== 'failed').length;
  $('say').elements.text.placeholder = waiting ? `say something (${waiting} waiting to be sent)` : 'say something';
}
function render(item) {
  let li = document.querySelector(`#outbox [data-cid="${item.cid}"]`);
  if (!li) {
    li = el('li', 'pending');
    li.dataset.cid = item.cid;
    li.append(el('span', 'text', item.text), el('span', 'state'));
    $('outbox').append(li);
    toBottom();
  }
  li.classList.toggle('failed', item.state === 'failed');
  li.dataset.state = item.state === 'failed' ? 'failed' : item.why;
  li.querySelector('.state').textContent = item.state === 'failed' ? `not sent: ${item.why}` : LABEL[item.why];
  li.querySelectorAll('button').forEach((b) => b.remove());
  if (item.state === 'failed') {
    const retry = el('button', '', 'retry');
    retry.onclick = () => { item.state = 'queued'; item.why = 'offline'; render(item); save(); flush(); };
    const discard = el('button', '', 'discard');
    discard.onclick = () => settle(item.cid);
    li.append(retry, discard);
  }
}
/** The message is delivered (or given up on): it leaves the outbox. */
function settle(cid) {
  outbox = outbox.filter((m) => m.cid !== cid);
  document.querySelector(`#outbox [data-cid="${cid}"]`)?.remove();
  save();
}
function flush() {
  if (!subscribed || ws.readyState !== WebSocket.OPEN) return;
  for (const item of outbox) {
    if (item.state !== 'queued') continue;
    item.state = 'sending';
    item.why = 'sending';
    ws.send(JSON.stringify({ type: 'publish', topic, data: { user: item.user, text: item.text, cid: item.cid }, id: `p:${item.cid}` }));
    render(item);
  }
  save();
}

// ---- the connection ---------------------------------------------------------------------
function status(text, live) {
  $('status').textContent = text;
  $('status').className = live ? 'live' : 'down';
}
function banner(text) {
  $('banner').hidden = text === undefined;
  $('banner-text').textContent = text ?? '';
}

function connect() {
  if (ws?.readyState === WebSocket.CONNECTING || ws?.readyState === WebSocket.OPEN) return;
  clearTimeout(retryTimer);
  clearInterval(ticker);
  status('connecting…', false);
  if (!$('banner').hidden) banner('Reconnecting…');
  const socket = new WebSocket(hubUrl);
  ws = socket;
  socket.onopen = () => {
    retryMs = 1000;
    status('live', true);
    banner(undefined);
    replayed = 0;
    // a fresh page asks from an id of no epoch: the hub replays all it keeps (lost: "epoch")
    const since = fresh || lastId === null ? '0:0' : lastId;
    ws.send(JSON.stringify({ type: 'subscribe', topic, since, id: 'sub' }));
  };
  socket.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    const cid = typeof frame.id === 'string' && frame.id.startsWith('p:') ? frame.id.slice(2) : undefined;
    if (frame.type === 'message') {
      if (!subscribed) replayed++;
      show(frame);
    } else if (frame.type === 'ack' && frame.id === 'sub') {
      subscribed = true;
      if (fresh) {
        if (replayed > 0) $('log').prepend(el('li', 'note', `the last ${replayed} message${replayed === 1 ? '' : 's'} in ${topic}`));
        const first = $('log').querySelector('.msg');
        if (lastBeforeLoad && first && epochOf(first.dataset.id) !== epochOf(lastBeforeLoad)) note('(the hub restarted since you were here: older messages are gone)');
      } else if (frame.lost === 'history') note('(some messages were missed while you were offline)');
      else if (frame.lost === 'epoch') note('(the hub restarted: messages sent meanwhile may be missing)');
      if (frame.lost === 'gap') note('(some messages never reached this hub)');
      fresh = false;
      flush();
    } else if (frame.type === 'ack' && cid) {
      settle(cid);
    } else if (frame.type === 'error' && cid) {
      const item = outbox.find((m) => m.cid === cid);
      if (!item) return;
      item.state = frame.code === 'unavailable' ? 'queued' : 'failed';
      item.why = frame.code === 'unavailable' ? 'unavailable' : `${frame.code}: ${frame.message}`;
      render(item);
      save();
    } else if (frame.type === 'error') {
      $('error').textContent = `${frame.code}: ${frame.message}`;
    }
  };
  socket.onclose = () => {
    if (socket !== ws) return; // an older connection closing late
    subscribed = false;
    // what was sent and not acked may or may not have arrived: the replay after the reconnect
    // shows it if it did (by its cid), and flush() sends the rest again
    for (const item of outbox) {
      if (item.state !== 'sending') continue;
      item.state = 'queued';
      item.why = 'unconfirmed';
      render(item);
    }
    save();
    retryAt = Date.now() + retryMs;
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 8000);
    ticker = setInterval(countdown, 250);
    countdown();
  };
}

function countdown() {
  const seconds = Math.max(1, Math.ceil((retryAt - Date.now()) / 1000));
  status(`offline — reconnecting in ${seconds} s`, false);
  const waiting = outbox.filter((m) => m.state !== 'failed').length;
  banner(`Connection lost. Reconnecting in ${seconds} s. ` + (waiting ? `${waiting} message${waiting === 1 ? '' : 's'} waiting to be sent.` : 'What you send meanwhile waits here.'));
}
$('retry-now').onclick = connect;

// ---- the forms --------------------------------------------------------------------------
function joined() {
  $('join').hidden = true;
  $('say').hidden = false;
  $('say').elements.text.focus();
}

$('join').onsubmit = async (event) => {
  event.preventDefault();
  const name = $('join').elements.user.value.trim();
  if (!name) return;
  $('error').textContent = '';
  try {
    // the app answers at once and publishes the welcome after the response (crosstown)
    const answer = await fetch('/join', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: name }) });
    if (!answer.ok) return void ($('error').textContent = `could not join: ${await answer.text()}`);
  } catch {
    return void ($('error').textContent = 'could not join: the server is unreachable — try again in a moment');
  }
  user = name;
  localStorage.setItem('hendrix-chat:user', user);
  joined();
};

$('say').onsubmit = (event) => {
  event.preventDefault();
  const input = $('say').elements.text;
  if (!input.value.trim()) return;
  const item = { cid: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`, user, text: input.value, state: 'queued', why: 'offline' };
  outbox.push(item);
  input.value = '';
  render(item);
  save();
  flush();
};

if (user) {
  $('join').elements.user.value = user;
  joined();
}
for (const item of outbox) {
  // after a reload nothing is in flight: what was sending is unconfirmed
  if (item.state === 'sending') Object.assign(item, { state: 'queued', why: 'unconfirmed' });
  render(item);
}
save();
connect();
