// The HTTP/2 peer: the same handler on a bare node:http2 secure server (compatibility API,
// Node's defaults) with the same certificate (CERT, KEY). Logs its address like `hendrix up`
// does, on a free port. BARE_HTTP1=1 also serves HTTP/1.1 on the port (allowHTTP1), as the
// hendrix listener does.
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import hello from './app.mjs';

const server = http2.createSecureServer(
  { cert: readFileSync(process.env.CERT), key: readFileSync(process.env.KEY), allowHTTP1: process.env.BARE_HTTP1 === '1' },
  hello,
);
const sessions = new Set();
server.on('session', (session) => {
  sessions.add(session);
  session.once('close', () => sessions.delete(session));
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', address: `https://127.0.0.1:${server.address().port}` }));
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  for (const session of sessions) session.close();
});
