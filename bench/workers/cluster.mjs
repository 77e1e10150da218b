// The peer: bare node:cluster — a primary that forks WORKERS (default 2) workers, each serving
// the same handler on one shared port (node's default round-robin scheduling on Linux).
import cluster from 'node:cluster';
import http from 'node:http';
import hello from './app.mjs';

if (cluster.isPrimary) {
  const count = Number(process.env.WORKERS ?? 2);
  for (let i = 0; i < count; i++) cluster.fork();
  let stopping = false;
  // A worker that dies while serving is a broken measurement, not something to hide by forking.
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) console.error(`cluster: worker ${worker.process.pid} exited (${code ?? signal})`);
    if (Object.keys(cluster.workers).length === 0) process.exit(stopping ? 0 : 1);
  });
  process.on('SIGTERM', () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  });
} else {
  const server = http.createServer(hello);
  server.listen(Number(process.env.PORT), '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
