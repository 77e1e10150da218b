// bench/reload's load and probes, the same for every contender: wrk on the hello page, WebSocket
// clients on the hub (hendrix's protocol: subscribe, publish, message), and the poller that
// times a reload — fresh connections until the page says the new version.
import { spawn } from 'node:child_process';
import http from 'node:http';
import WebSocket from 'ws';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const toMs = (value, unit) => Number(value) * UNIT_MS[unit];

/** Parses wrk's --latency report: requests, socket errors, non-2xx/3xx, p99 and max latency (ms). */
export function parseWrk(out) {
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)?.slice(1).map(Number) ?? [0, 0, 0, 0];
  const latency = /Latency\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)/.exec(out);
  const p99 = /99%\s+([\d.]+)(us|ms|s|m|h)/.exec(out);
  return {
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    connect: socket[0],
    read: socket[1],
    write: socket[2],
    timeout: socket[3],
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    p99: p99 ? toMs(p99[1], p99[2]) : NaN,
    max: latency ? toMs(latency[5], latency[6]) : NaN,
  };
}

/** Runs `wrk -c32 -t2 -d<seconds>s --latency` on the page; `track` registers the child for clean-up. */
export function runWrk(url, seconds, track) {
  return new Promise((resolve, reject) => {
    const child = track(spawn('wrk', ['-c32', '-t2', `-d${seconds}s`, '--latency', url], { stdio: ['ignore', 'pipe', 'inherit'] }));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.once('error', reject);
    child.once('close', (code, signal) => (code === 0 ? resolve({ ...parseWrk(out), raw: out }) : reject(new Error(`wrk exited with ${code ?? signal}:\n${out}`))));
  });
}

/** One GET on a fresh connection: resolves with the version the page names, or the error. */
export function getOnce(port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c));
      res.on('end', () => {
        const version = /reload (\d+)/.exec(body);
        if (res.statusCode === 200 && version) resolve({ version: Number(version[1]) });
        else resolve({ error: `HTTP ${res.statusCode}` });
      });
      res.on('error', (error) => resolve({ error: error.code ?? error.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (error) => resolve({ error: error.code ?? error.message }));
  });
}

/**
 * Times one reload from `started` (performance.now() when the command was issued): polls with a
 * fresh connection every ~2 ms until the page says `version` and the command (`done`, a
 * promise of its `{ code }`) has ended, so that failed connections are counted for the whole
 * reload. Gives up after `giveUpMs`, or a second after the command failed.
 */
export async function pollNewContent(port, version, started, done, giveUpMs = 30_000) {
  let ended = false;
  let deadline = started + giveUpMs;
  done.then(({ code }) => {
    ended = true;
    if (code !== 0) deadline = Math.min(deadline, performance.now() + 1000);
  });
  const result = { ms: NaN, polls: 0, failed: 0, errors: {} };
  while (performance.now() < deadline) {
    const answer = await getOnce(port);
    result.polls++;
    if (answer.error) {
      result.failed++;
      result.errors[answer.error] = (result.errors[answer.error] ?? 0) + 1;
    } else if (answer.version >= version && Number.isNaN(result.ms)) {
      result.ms = performance.now() - started;
    }
    if (!Number.isNaN(result.ms) && ended) break;
    await sleep(2);
  }
  return result;
}

/**
 * `count` WebSocket clients on `url`, each subscribed to its own topic and publishing on it
 * every `everyMs` (the hub sends each message back to its one subscriber): what arrives says the
 * connection still carries messages both ways. A closed client is counted (time, close code)
 * and reconnects 100 ms later, so that every reload meets `count` clients.
 */
export async function startClients(url, count, everyMs = 500) {
  const closes = [];
  const totals = { sent: 0, received: 0, connectFailed: 0 };
  let stopping = false;
  const clients = [];

  function connect(client) {
    return new Promise((resolve) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      let opened = false;
      ws.on('open', () => {
        opened = true;
        ws.send(JSON.stringify({ type: 'subscribe', topic: client.topic, id: 'sub' }));
      });
      ws.on('message', (raw) => {
        const frame = JSON.parse(raw);
        if (frame.type === 'ack' && frame.id === 'sub') {
          client.ws = ws;
          resolve();
        } else if (frame.type === 'message') totals.received++;
      });
      ws.on('error', () => {});
      ws.on('close', (code) => {
        if (client.ws === ws) client.ws = undefined;
        if (stopping) return resolve();
        if (opened) closes.push({ at: performance.now(), code });
        else totals.connectFailed++;
        setTimeout(() => connect(client).then(resolve), 100);
      });
    });
  }

  for (let i = 0; i < count; i++) clients.push({ topic: `reload.c${i}`, ws: undefined });
  await Promise.all(clients.map(connect));
  let n = 0;
  const timer = setInterval(() => {
    n++;
    for (const client of clients) {
      if (client.ws?.readyState !== WebSocket.OPEN) continue;
      client.ws.send(JSON.stringify({ type: 'publish', topic: client.topic, data: { n } }));
      totals.sent++;
    }
  }, everyMs);

  return {
    /** Closes seen so far: { at, code }. */
    closes,
    /** Stops publishing, waits for what is still on its way, and returns the counts. */
    async finish() {
      clearInterval(timer);
      await sleep(1000);
      return { ...totals, lost: totals.sent - totals.received, open: clients.filter((c) => c.ws?.readyState === WebSocket.OPEN).length };
    },
    /** Closes every client (1000) without counting it. */
    close() {
      stopping = true;
      for (const client of clients) client.ws?.close(1000);
    },
  };
}
