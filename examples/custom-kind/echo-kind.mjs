// A custom kind: a TCP echo server. It gets the same validation, error reporting, graph edges
// and lifecycle as a built-in kind.
import net from 'node:net';
import { defineServiceKind, listen, formatListen, z } from 'hendrix';

export default defineServiceKind({
  kind: 'echo',
  description: 'A TCP server that echoes every line back, after a banner.',
  schema: z.strictObject({
    listen: listen('Where to listen: a port or "host:port".'),
    banner: z.string().default('hello').describe('The first line sent to each client.'),
    web: z.string().optional().describe('An http service whose address the banner mentions (a reference: a graph edge).'),
  }),
  references: ['web'],
  create(ctx) {
    let server;
    const sockets = new Set();
    return {
      async start(signal) {
        const web = ctx.config.web ? ctx.peer(ctx.config.web) : undefined;
        const banner = web?.url ? `${ctx.config.banner} (web at ${web.url})` : ctx.config.banner;
        server = net.createServer((socket) => {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => socket.destroy());
          socket.write(`${banner}\n`);
          socket.pipe(socket);
        });
        const { host, port } = ctx.config.listen;
        await new Promise((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host, port, signal }, resolve);
        });
        server.on('error', (err) => ctx.crashed(err));
      },
      async stop(signal) {
        if (!server) return;
        const closed = new Promise((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.end();
        signal.addEventListener('abort', () => sockets.forEach((s) => s.destroy()), { once: true });
        await closed;
      },
      address() {
        const a = server?.address();
        return a && typeof a === 'object' ? formatListen({ host: a.address, port: a.port }, 'tcp') : undefined;
      },
    };
  },
});
