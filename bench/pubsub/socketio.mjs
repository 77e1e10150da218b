// bench/pubsub peer: Socket.IO 4 broadcasting with `io.emit`. Subscribers connect to the main
// namespace and ask to subscribe (acked); the publisher uses the /pub namespace so that it does
// not receive its own broadcasts. Prints {"msg":"ready","port":N} on stdout; exits on SIGTERM
// or when its parent closes stdin.
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, maxHttpBufferSize: 64 * 1024, perMessageDeflate: false });
let seq = 0;

io.on('connection', (socket) => {
  socket.on('subscribe', (_topic, ack) => {
    if (typeof ack === 'function') ack({ ok: true });
  });
});
io.of('/pub').on('connection', (socket) => {
  socket.on('publish', (frame) => {
    io.emit('message', { topic: frame.topic, id: String(++seq), data: frame.data, ts: Date.now() });
  });
});
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ msg: 'ready', port: http.address().port })}\n`));
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0)).resume();
