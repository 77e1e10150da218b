// bench/reload: the app PM2 runs in cluster mode (2 workers sharing the port through
// node:cluster): the hello page and the hub of ws-hub.mjs on /hub, with the graceful shutdown
// PM2's docs recommend — on SIGINT stop listening, let requests finish, close the WebSocket
// clients with 1001, exit (PM2 kills a worker that takes over kill_timeout, 1.6 s).
// run.mjs copies this file into its temp folder and rewrites the TEXT line before each reload
// (and the import below to this folder's ws-hub.mjs).
import http from 'node:http';
import { attachHub } from './ws-hub.mjs';

const TEXT = 'reload 0\n';

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(TEXT);
});
const closeClients = attachHub(server);
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGINT', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  closeClients();
});
