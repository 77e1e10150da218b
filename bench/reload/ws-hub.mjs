// bench/reload's WebSocket hub for the peers (Caddy's backend, the PM2 app): the part of the
// hendrix hub's JSON protocol the bench's clients speak — subscribe and publish (acked when they
// carry an id), and a message to each subscriber of the exact topic — written the way a `ws`
// app usually is, with the graceful close a PM2 app does on SIGINT (1001 "going away").
import { WebSocketServer } from 'ws';

/** Takes the WebSocket upgrades to `path` on `server`; returns a close(code, reason) for every client. */
export function attachHub(server, path = '/hub') {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });
  const topics = new Map(); // topic → Set of sockets
  let seq = 0;
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url, 'http://x').pathname !== path) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws));
  });
  wss.on('connection', (ws) => {
    const mine = new Set();
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      for (const topic of mine) topics.get(topic)?.delete(ws);
    });
    ws.on('message', (raw) => {
      let frame;
      try {
        frame = JSON.parse(raw);
      } catch {
        return;
      }
      if (frame.type === 'subscribe') {
        if (!topics.has(frame.topic)) topics.set(frame.topic, new Set());
        topics.get(frame.topic).add(ws);
        mine.add(frame.topic);
        if (frame.id !== undefined) ws.send(JSON.stringify({ type: 'ack', id: frame.id, replayed: 0 }));
      } else if (frame.type === 'publish') {
        const id = `p${process.pid}:${++seq}`;
        const text = JSON.stringify({ type: 'message', topic: frame.topic, id, data: frame.data, ts: Date.now() });
        for (const peer of topics.get(frame.topic) ?? []) peer.send(text);
        if (frame.id !== undefined) ws.send(JSON.stringify({ type: 'ack', id: frame.id, messageId: id }));
      }
    });
  });
  return (code = 1001, reason = 'going away') => {
    for (const ws of wss.clients) ws.close(code, reason);
  };
}
