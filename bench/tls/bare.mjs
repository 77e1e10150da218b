// The peer: the same handler on bare node:https with Node's default TLS settings and the same
// certificate (CERT, KEY). Logs its address like `hendrix up` does, on a free port.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import hello from './app.mjs';

const server = https.createServer({ cert: readFileSync(process.env.CERT), key: readFileSync(process.env.KEY) }, hello);
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', address: `https://127.0.0.1:${server.address().port}` }));
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
