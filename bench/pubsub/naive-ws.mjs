// bench/pubsub peer: the naive broadcast a hub is compared with — a `ws` server that, on a
// publish frame, stringifies and sends the message to every subscribed client, one at a time.
// Same JSON protocol as the hendrix hub (subscribe/publish → ack, message). Prints
// {"msg":"ready","port":N} on stdout; exits on SIGTERM or when its parent closes stdin.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0), maxPayload: 64 * 1024, perMessageDeflate: false });
const clients = new Set();
let seq = 0;

wss.on('connection', (ws) => {
  ws.on('error', () => ws.terminate());
  ws.on('close', () => clients.delete(ws));
  ws.on('message', (raw) => {
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (frame.type === 'subscribe') {
      clients.add(ws);
    } else if (frame.type === 'publish') {
      const msg = { type: 'message', topic: frame.topic, id: String(++seq), data: frame.data, ts: Date.now() };
      for (const c of clients) c.send(JSON.stringify(msg));
    } else {
      return;
    }
    if (frame.id !== undefined) ws.send(JSON.stringify({ type: 'ack', id: frame.id }));
  });
});
wss.on('listening', () => process.stdout.write(`${JSON.stringify({ msg: 'ready', port: wss.address().port })}\n`));
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0)).resume();
