#!/usr/bin/env node
// hub.mjs's WebSocket clients, in processes of their own so that the server's CPU figures hold
// only the server: `--role sub` connects --count subscribers to one topic and counts the messages
// they receive; `--role pub` connects --count publishers that publish on it when told to.
// Started and driven by hub.mjs over JSON lines: stdout says {ready} once every connection is
// open (subscribed), then answers the commands read from stdin: {cmd: 'count'} (sub),
// {cmd: 'go', seconds, rate, window} (pub); stdin's end exits. (Which worker took each
// connection, hub.mjs reads from /proc.)
// Both use bench/pubsub's lean client: the subscribers count a message by one byte of its frame,
// without parsing it (`{"type":"message"…` has its m at index 9), so that a client process costs
// far less CPU per delivery than the hub spends making it.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { leanConnect } from '../pubsub/lean-ws.mjs';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    role: { type: 'string' },
    count: { type: 'string', default: '100' },
    topic: { type: 'string', default: 'bench.fanout' },
    bytes: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '50' },
  },
});
const COUNT = Number(values.count);
const TOPIC = values.topic;
if (!values.url || !['sub', 'pub'].includes(values.role)) throw new Error('--url ws://… and --role sub|pub are required');

const now = () => performance.timeOrigin + performance.now(); // one clock across processes: epoch ms
const say = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);
const log = (msg) => process.stderr.write(`  [${values.role} ${process.pid}] ${msg}\n`);
const M = 'm'.charCodeAt(0);
const A = 'a'.charCodeAt(0);
let shuttingDown = false;
let closed = 0;

/**
 * Opens one connection and sends `first` (a subscribe); ready at its ack, or at once without
 * one. `onText(buf, start, end)` gets every frame from then on.
 */
function connect(i, first, onText, onGone = () => {}) {
  return new Promise((resolve, reject) => {
    let ready = false;
    let socket;
    leanConnect(values.url, {
      onFrame(buf, start, end) {
        if (ready) return onText(buf, start, end);
        const frame = JSON.parse(buf.toString('utf8', start, end));
        if (frame.type === 'error') return reject(new Error(`connection ${i}: ${frame.code} ${frame.message}`));
        if (frame.type !== 'ack') return;
        ready = true;
        resolve(socket);
      },
      onClose(code) {
        if (ready && !shuttingDown) {
          closed++;
          log(`connection ${i} closed by the server (${code})`);
          onGone();
        }
        if (!ready) reject(new Error(`connection ${i} closed (${code}) before it was ready`));
      },
    }).then((s) => {
      socket = s;
      if (first === undefined) {
        ready = true;
        resolve(s);
      } else s.sendText(first);
    }, reject);
  });
}

/** Connects `count` clients, `concurrency` at a time; resolves with their sockets. */
async function connectAll(make) {
  const sockets = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(Number(values.concurrency), COUNT) }, async () => {
      while (next < COUNT) sockets.push(await make(next++));
    }),
  );
  return sockets;
}

// ---- subscribers ---------------------------------------------------------------------------
let received = 0;
let lastAt = 0;
// The time of the last delivery, read once per turn of the event loop rather than per frame:
// right after the reads that brought the frames, and far cheaper at a million frames a second.
let stamping = false;
const stamp = () => {
  lastAt = now();
  stamping = false;
};
function onMessage(buf, start) {
  if (buf[start + 9] !== M) return log(`unexpected frame: ${buf.toString('utf8', start, Math.min(start + 200, buf.length))}`);
  received++;
  if (!stamping) {
    stamping = true;
    setImmediate(stamp);
  }
}

// ---- publishers ----------------------------------------------------------------------------
// the data, {"s":<id>,"x":"xx…"}, is about --bytes long
const PAD = 'x'.repeat(Math.max(0, Number(values.bytes) - 20));
/** One publisher: a closed loop of at most `window` publishes waiting for their ack, or a pace. */
function publisher(socket) {
  const p = { socket, nextId: 1, inflight: 0, acked: 0, errors: 0, until: 0, window: 1, paced: false, closing: false, onIdle: () => {} };
  // a closed publisher's acks never come: it is done, and the pass incomplete (closed > 0)
  p.gone = false;
  p.onGone = () => {
    p.gone = true;
    p.until = 0;
    p.inflight = 0;
    p.onIdle();
  };
  p.send = () => {
    if (p.gone) return;
    const id = p.nextId++;
    p.inflight++;
    socket.sendText(`{"type":"publish","topic":"${TOPIC}","id":${id},"data":{"s":${id},"x":"${PAD}"}}`);
  };
  p.pump = () => {
    while (p.inflight < p.window && now() < p.until) p.send();
    if (p.inflight === 0) p.onIdle();
  };
  p.onText = (buf, start, end) => {
    if (buf[start + 9] !== A) {
      // an error frame (refused publish): the first few say why, the count says how many
      if (p.errors++ < 3) log(`publisher: ${buf.toString('utf8', start, Math.min(end, start + 200))}`);
    } else p.acked++;
    p.inflight--;
    if (p.gone) return;
    if (!p.paced) p.pump();
    else if (p.closing && p.inflight === 0) p.onIdle();
  };
  return p;
}

/** Publishes for `seconds`: closed loop (rate 0) or `rate` messages/s in all; resolves when every ack is back. */
async function go(publishers, { seconds, rate, window }) {
  const startAt = now();
  const before = publishers.reduce((n, p) => n + p.nextId - 1, 0);
  const idle = publishers.map((p) => new Promise((resolve) => (p.onIdle = resolve)));
  for (const p of publishers) {
    p.until = startAt + 1000 * seconds;
    p.window = window;
    p.paced = rate > 0;
    p.closing = false;
    p.base = p.nextId - 1;
  }
  if (rate > 0) {
    // every 5 ms each publisher sends what its share of the rate owes by now
    const each = rate / publishers.length;
    const timer = setInterval(() => {
      const t = Math.min(now(), startAt + 1000 * seconds);
      for (const p of publishers) {
        const owed = Math.floor(((t - startAt) * each) / 1000) - (p.nextId - 1 - p.base);
        for (let i = 0; i < owed; i++) p.send();
      }
      if (t >= startAt + 1000 * seconds) {
        // everything owed is sent: each publisher is done once its acks are back
        clearInterval(timer);
        for (const p of publishers) {
          p.closing = true;
          if (p.inflight === 0) p.onIdle();
        }
      }
    }, 5);
  } else for (const p of publishers) p.pump();
  await Promise.all(idle);
  const published = publishers.reduce((n, p) => n + p.nextId - 1, 0) - before;
  return { published, errors: publishers.reduce((n, p) => n + p.errors, 0), startAt, endAt: now() };
}

// ---- the run -------------------------------------------------------------------------------
const publishers = [];
let sockets;
if (values.role === 'sub') {
  sockets = await connectAll((i) => connect(i, JSON.stringify({ type: 'subscribe', topic: TOPIC, id: i }), onMessage));
} else {
  sockets = await connectAll(async (i) => {
    let p;
    const socket = await connect(i, undefined, (buf, start, end) => p.onText(buf, start, end), () => p.onGone());
    p = publisher(socket);
    publishers.push(p);
    return socket;
  });
}
say({ ready: true, connections: sockets.length });

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const command = JSON.parse(line);
  if (command.cmd === 'count') say({ received, lastAt, closed });
  else if (command.cmd === 'go') say({ ...(await go(publishers, command)), closed });
});
lines.on('close', () => {
  shuttingDown = true;
  for (const s of sockets) s.terminate();
  process.exit(0);
});
