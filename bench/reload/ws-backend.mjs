// bench/reload: the WebSocket backend Caddy reverse-proxies /hub to (the hub of ws-hub.mjs on
// a node:http server). Caddy's reload does not touch this process, so what happens to the
// clients' connections is what Caddy's reload does to proxied WebSockets.
// Prints {"msg":"ready","port":N} on stdout; exits on SIGTERM or when its parent closes stdin.
import http from 'node:http';
import { attachHub } from './ws-hub.mjs';

const server = http.createServer((req, res) => {
  res.writeHead(404).end();
});
const closeClients = attachHub(server);
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ msg: 'ready', port: server.address().port })}\n`));
const quit = () => {
  closeClients();
  server.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', quit);
process.stdin.on('end', quit).resume();
