// The single-process reference: the same handler on one bare node:http server.
import http from 'node:http';
import hello from './app.mjs';

const server = http.createServer(hello);
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
