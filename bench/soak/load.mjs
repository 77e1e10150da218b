// The soak's mixed load, against one hendrix: HTTP request loops (keep-alive and a new
// connection per request; text, static file, request body, crosstown work, slow answers),
// WebSocket subscribers that are cut and resume with `since` (counting every message they
// should have had), publishers over WebSocket and over HTTP, and short-lived connections.
import { request, Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

const TOPICS = 8;

/** Starts the load against `base` (http://host:port); returns its counters and a stop(). */
export function startLoad(base, { subscribers = 40, publishers = 4, httpLoops = 6, publishEveryMs = 20, cutEveryMs = 2_000 } = {}) {
  const hub = `${base.replace(/^http/, 'ws')}/hub`;
  const counters = { requests: 0, httpErrors: 0, published: 0, publishErrors: 0, delivered: 0, gaps: 0, lostReported: 0, reconnects: 0, shortLived: 0 };
  let stopping = false;
  const timers = [];
  const sockets = new Set();
  const agent = new Agent({ keepAlive: true, maxSockets: httpLoops });

  const get = (path, options = {}) =>
    new Promise((resolve) => {
      const req = request(`${base}${path}`, { agent: options.agent ?? agent, method: options.body ? 'POST' : 'GET' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
        res.on('error', () => resolve(0));
      });
      req.on('error', () => resolve(0));
      req.end(options.body);
    });

  const routes = ['/', '/static/asset.txt', '/echo', '/work', '/slow'];
  const body = Buffer.alloc(2_048, 'b');
  const httpLoop = async (n, options) => {
    for (let i = n; !stopping; i++) {
      const path = routes[i % routes.length];
      const status = await get(path, { ...options, body: path === '/echo' ? body : undefined });
      counters.requests++;
      if (status !== 200) counters.httpErrors++;
      await sleep(10);
    }
  };

  const open = (onMessage) => {
    const ws = new WebSocket(hub);
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('error', () => undefined);
    if (onMessage) ws.on('message', (data) => onMessage(JSON.parse(String(data))));
    return new Promise((resolve) => {
      ws.once('open', () => resolve(ws));
      ws.once('close', () => resolve(undefined));
    });
  };

  // a subscriber keeps its place per topic across cuts; a seq that skips is a lost message,
  // unless the resubscription's ack says `lost` (history pushed out meanwhile: reported)
  const subscriber = (index) => {
    const topic = `soak.t${index % TOPICS}`;
    const state = { topic, lastId: undefined, ws: undefined, resuming: false, skipped: 0 };
    const onMessage = (frame) => {
      if (frame.type === 'message') {
        counters.delivered++;
        const at = frame.id.lastIndexOf(':');
        if (state.lastId !== undefined) {
          const lastAt = state.lastId.lastIndexOf(':');
          const sameEpoch = state.lastId.slice(0, lastAt) === frame.id.slice(0, at);
          if (sameEpoch && Number(frame.id.slice(at + 1)) !== Number(state.lastId.slice(lastAt + 1)) + 1) {
            if (state.resuming) state.skipped++;
            else counters.gaps++;
          }
        }
        state.lastId = frame.id;
      } else if (frame.type === 'ack' && frame.id === 'sub') {
        if (frame.lost) counters.lostReported++;
        else counters.gaps += state.skipped;
        state.resuming = false;
        state.skipped = 0;
      }
    };
    const connect = async () => {
      if (stopping) return;
      state.ws = await open(onMessage);
      if (state.ws === undefined) return void setTimeout(connect, 200);
      state.resuming = true;
      state.ws.send(JSON.stringify({ type: 'subscribe', topic, id: 'sub', ...(state.lastId ? { since: state.lastId } : {}) }));
      state.ws.once('close', () => {
        if (stopping) return;
        counters.reconnects++;
        setTimeout(connect, 100);
      });
    };
    connect();
    return state;
  };
  const subs = Array.from({ length: subscribers }, (_, i) => subscriber(i));

  const publisher = async (index) => {
    const ws = await open((frame) => {
      if (frame.type === 'error') counters.publishErrors++;
    });
    if (ws === undefined) return;
    let n = 0;
    timers.push(
      setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        ws.send(JSON.stringify({ type: 'publish', topic: `soak.t${(index + n++) % TOPICS}`, data: { from: index, n, pad: 'p'.repeat(200) } }));
        counters.published++;
      }, publishEveryMs),
    );
  };
  for (let i = 0; i < publishers; i++) publisher(i);

  const httpPublish = async () => {
    for (let n = 0; !stopping; n++) {
      const req = request(`${base}/hub/publish/soak.t${n % TOPICS}`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        if (res.statusCode !== 202) counters.publishErrors++;
      });
      req.on('error', () => counters.publishErrors++);
      req.end(JSON.stringify({ from: 'http', n }));
      counters.published++;
      await sleep(100);
    }
  };

  // connections that come and go: subscribe and leave at once
  const shortLived = async () => {
    while (!stopping) {
      const ws = await open();
      if (ws) {
        ws.send(JSON.stringify({ type: 'subscribe', topic: 'soak.churn' }));
        ws.close();
        counters.shortLived++;
      }
      await sleep(200);
    }
  };

  // cuts: every cutEveryMs one subscriber's connection is closed or dropped
  timers.push(
    setInterval(() => {
      const victim = subs[Math.floor(Math.random() * subs.length)];
      if (victim?.ws?.readyState !== WebSocket.OPEN) return;
      if (Math.random() < 0.5) victim.ws.close();
      else victim.ws.terminate();
    }, cutEveryMs),
  );

  const loops = [
    ...Array.from({ length: httpLoops }, (_, n) => httpLoop(n, {})),
    httpLoop(0, { agent: false }),
    httpPublish(),
    shortLived(),
  ];

  return {
    counters,
    async stop() {
      stopping = true;
      for (const timer of timers) clearInterval(timer);
      await Promise.race([Promise.all(loops), sleep(5_000)]);
      for (const ws of sockets) ws.terminate();
      agent.destroy();
    },
  };
}
