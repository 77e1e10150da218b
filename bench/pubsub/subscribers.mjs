#!/usr/bin/env node
// bench/pubsub load generator: one process that hosts every subscriber AND the publisher, so
// publish-to-delivery latency is measured on one clock (performance.now of this process).
// Started by run.mjs once per server; prints one JSON line with its figures on stdout,
// progress on stderr.
//   --target hendrix|naive|socketio  --url ws://... (hendrix, naive) or http://... (socketio)
//   --subscribers N --messages M --rate R --seconds S --server-pid PID --stall SECONDS
// hendrix and naive speak the hub's JSON protocol: subscribers over lean-ws.mjs (the `ws`
// client cost more CPU per frame than the hub spent delivering it), the publisher over `ws`;
// socketio uses socket.io-client (websocket transport, one Manager per subscriber: no
// multiplexing).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { leanConnect } from './lean-ws.mjs';

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    url: { type: 'string' },
    subscribers: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '5' },
    'server-pid': { type: 'string' },
    stall: { type: 'string', default: '15' },
    concurrency: { type: 'string', default: '50' },
  },
});
const TARGET = values.target;
const N = Number(values.subscribers);
const M = Number(values.messages);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const STALL_MS = Number(values.stall) * 1000;
const SERVER_PID = values['server-pid'];
const TOPIC = 'chat.lobby';
const DATA_BYTES = 64;
if (!['hendrix', 'naive', 'socketio'].includes(TARGET) || !values.url) throw new Error('--target hendrix|naive|socketio and --url are required');

const log = (msg) => process.stderr.write(`  [${TARGET}] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

{
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const soft = Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? Infinity);
  if (soft < N + 64) throw new Error(`open-file limit ${soft} is too low for ${N} subscribers: run \`ulimit -n ${N * 2 + 256}\` first`);
}

// ---- what arrives ---------------------------------------------------------------------
/** The phase being measured: messages with seq in [first, first+count) belong to it. */
let current;
let nextSeq = 1;
let strays = 0;
let closed = 0;
let errors = 0;

function record(seq, sentUs) {
  const now = performance.now();
  const p = current;
  if (p === undefined || !(seq >= p.first && seq < p.first + p.count) || p.received >= p.latency.length) {
    strays++;
    return;
  }
  p.latency[p.received++] = now - sentUs / 1000;
  p.lastAt = now;
}

// The subscribers read the two numbers they need straight from the frame bytes instead of
// JSON.parse-ing millions of messages: the load generator must not be the bottleneck it
// measures. The data object starts with {"s":<seq>,"t":<µs>, (see data() below).
const M_CHAR = 'm'.charCodeAt(0); // {"type":"message"… has the m at index 9
function onWsFrame(buf, start, stop) {
  if (buf[start + 9] !== M_CHAR) return;
  const end = stop - 8;
  for (let i = start + 30; i < end; i++) {
    // {"s":
    if (buf[i] !== 123 || buf[i + 1] !== 34 || buf[i + 2] !== 115 || buf[i + 3] !== 34 || buf[i + 4] !== 58) continue;
    let j = i + 5;
    let seq = 0;
    for (let c = buf[j]; c >= 48 && c <= 57; c = buf[++j]) seq = seq * 10 + (c - 48);
    j += 5; // ,"t":
    let t = 0;
    for (let c = buf[j]; c >= 48 && c <= 57; c = buf[++j]) t = t * 10 + (c - 48);
    record(seq, t);
    return;
  }
}

// ---- subscribers ------------------------------------------------------------------------
function wsSubscriber(i) {
  return new Promise((resolve, reject) => {
    let subscribed = false;
    const timer = setTimeout(() => reject(new Error(`subscriber ${i}: no ack in 30 s`)), 30_000);
    let ws;
    leanConnect(values.url, {
      onFrame(buf, start, end) {
        if (subscribed) return onWsFrame(buf, start, end);
        const frame = JSON.parse(buf.toString('utf8', start, end));
        if (frame.type === 'ack' && frame.id === i) {
          subscribed = true;
          clearTimeout(timer);
          resolve({ close: () => ws.terminate() });
        } else if (frame.type === 'error') {
          reject(new Error(`subscriber ${i}: ${frame.code} ${frame.message}`));
        }
      },
      onClose(code) {
        if (subscribed && !shuttingDown) {
          closed++;
          log(`subscriber ${i} closed by the server (${code})`);
        }
        reject(new Error(`subscriber ${i} closed (${code})`));
      },
    }).then(
      (socket) => {
        ws = socket;
        ws.sendText(JSON.stringify({ type: 'subscribe', topic: TOPIC, id: i }));
      },
      (error) => {
        errors++;
        reject(error);
      },
    );
  });
}

function socketioSubscriber(i) {
  return new Promise((resolve, reject) => {
    const socket = io(values.url, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30_000 });
    let subscribed = false;
    const timer = setTimeout(() => reject(new Error(`subscriber ${i}: no ack in 30 s`)), 30_000);
    socket.on('connect', () =>
      socket.emit('subscribe', TOPIC, () => {
        subscribed = true;
        clearTimeout(timer);
        resolve({ close: () => socket.disconnect() });
      }),
    );
    socket.on('message', (m) => record(m.data.s, m.data.t));
    socket.on('connect_error', (error) => {
      errors++;
      reject(error);
    });
    socket.on('disconnect', (reason) => {
      if (subscribed && !shuttingDown) {
        closed++;
        log(`subscriber ${i} disconnected (${reason})`);
      }
    });
  });
}

// ---- the publisher ------------------------------------------------------------------------
/** 64 bytes of JSON data: {"s":seq,"t":send time in µs,"x":"xxx…"}. */
function data(seq) {
  const t = Math.round(performance.now() * 1000);
  const head = `{"s":${seq},"t":${t},"x":"`;
  return { seq, t, x: 'x'.repeat(Math.max(0, DATA_BYTES - head.length - 2)) };
}

async function wsPublisher() {
  const ws = new WebSocket(values.url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.on('error', (error) => log(`publisher error: ${error.message}`));
  return {
    publish(seq) {
      const d = data(seq);
      ws.send(`{"type":"publish","topic":"${TOPIC}","data":{"s":${d.seq},"t":${d.t},"x":"${d.x}"}}`);
    },
    close: () => ws.terminate(),
  };
}

async function socketioPublisher() {
  const socket = io(new URL('/pub', values.url).href, { transports: ['websocket'], forceNew: true, reconnection: false });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
  return {
    publish(seq) {
      const d = data(seq);
      socket.emit('publish', { topic: TOPIC, data: { s: d.seq, t: d.t, x: d.x } });
    },
    close: () => socket.disconnect(),
  };
}

// ---- measuring ----------------------------------------------------------------------------
function serverCpuMs() {
  if (SERVER_PID === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${SERVER_PID}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in 1/100 s
  } catch {
    return NaN;
  }
}

function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Publishes `count` messages with `send`, waits for every subscriber to have them all (or a stall), and summarizes. */
async function phase(name, count, send) {
  const p = { name, first: nextSeq, count, latency: new Float64Array(count * subscribers.length), received: 0, startAt: 0, sentAt: 0, lastAt: 0 };
  nextSeq += count;
  current = p;
  const cpu0 = serverCpuMs();
  const me0 = process.cpuUsage();
  p.startAt = performance.now();
  await send(p);
  p.sentAt = performance.now();
  let complete = true;
  for (;;) {
    if (p.received >= p.latency.length) break;
    if (performance.now() - Math.max(p.lastAt, p.sentAt) > STALL_MS) {
      complete = false;
      log(`${name}: stalled with ${p.received} of ${p.latency.length} deliveries`);
      break;
    }
    await sleep(5);
  }
  const me = process.cpuUsage(me0);
  const cpu1 = serverCpuMs();
  current = undefined;
  const wallMs = (p.lastAt || performance.now()) - p.startAt;
  const sorted = p.latency.subarray(0, p.received).sort();
  return {
    published: count,
    expected: p.latency.length,
    delivered: p.received,
    complete,
    publishMs: p.sentAt - p.startAt,
    wallMs,
    deliveriesPerSec: p.received / (wallMs / 1000),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    serverCpuMs: cpu1 - cpu0,
    loadgenCpuMs: (me.user + me.system) / 1000,
  };
}

const burst = (publisher) => async (p) => {
  for (let i = 0; i < p.count; i++) publisher.publish(p.first + i);
};
const paced = (publisher, rate) => async (p) => {
  for (let i = 0; i < p.count; i++) {
    const wait = p.startAt + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    publisher.publish(p.first + i);
  }
};

// ---- the run ------------------------------------------------------------------------------
let shuttingDown = false;
const subscribers = [];
const connectStarted = performance.now();
{
  const make = TARGET === 'socketio' ? socketioSubscriber : wsSubscriber;
  const concurrency = Number(values.concurrency);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, N) }, async () => {
      while (next < N) subscribers.push(await make(next++));
    }),
  );
}
const connectMs = performance.now() - connectStarted;
log(`${subscribers.length} subscribers subscribed in ${connectMs.toFixed(0)} ms`);
const publisher = TARGET === 'socketio' ? await socketioPublisher() : await wsPublisher();

const warm = await phase('warm-up', Math.min(200, M), burst(publisher));
log(`warm-up: ${warm.delivered}/${warm.expected} in ${warm.wallMs.toFixed(0)} ms`);
await sleep(300);
const burstResult = await phase('burst', M, burst(publisher));
log(`burst: ${burstResult.delivered}/${burstResult.expected} in ${burstResult.wallMs.toFixed(0)} ms`);
await sleep(500);
const pacedResult = await phase('paced', Math.max(1, Math.round(RATE * SECONDS)), paced(publisher, RATE));
log(`paced: ${pacedResult.delivered}/${pacedResult.expected}`);

shuttingDown = true;
process.stdout.write(`${JSON.stringify({ target: TARGET, subscribers: subscribers.length, connectMs, warm, burst: burstResult, paced: pacedResult, closed, errors, strays })}\n`);
publisher.close();
for (const s of subscribers) s.close();
setTimeout(() => process.exit(0), 200);
