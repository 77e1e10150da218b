// A custom kind: a TCP echo server. It gets the same validation, error reporting, graph edges,
// plan checks and lifecycle as a built-in kind, and runs the same contract suite
// (echo-kind.test.mjs, with `hendrix/testing`). See docs/kinds.md.
import net from 'node:net';
import { defineServiceKind, defineErrorCodes, listen, listenOn, formatListen, HendrixError, z } from 'hendrix';

/** The kind's own error codes: title, hint and exit code, listed by `hendrix` like the built-in ones. */
const codes = defineErrorCodes({
  HX_ERR_ECHO_BANNER: { title: 'echo banner is not one line', hint: 'write the banner without line breaks', exit: 78 },
});

export default defineServiceKind({
  kind: 'echo',
  description: 'A TCP server that echoes every line back, after a banner.',
  schema: z.strictObject({
    listen: listen('Where to listen: a port or "host:port".'),
    banner: z.string().default('hello').describe('The first line sent to each client.'),
    web: z.string().optional().describe('An http service whose address the banner mentions (a reference: a graph edge).'),
  }),
  // a typed reference: `web` must name an http service, or the plan refuses it at its line
  references: [{ field: 'web', kinds: ['http'] }],
  errors: codes,
  // for the plan's checks: two services on one port, privileged ports
  listens: (config) => [{ path: ['listen'], address: config.listen }],
  // checked by `hendrix check` and before `hendrix up` starts anything
  provision(ctx) {
    if (/[\r\n]/.test(ctx.config.banner)) {
      ctx.problem(new HendrixError('HX_ERR_ECHO_BANNER', { message: 'the banner has a line break', path: ['banner'] }));
    }
  },
  create(ctx) {
    let server;
    const sockets = new Set();
    let accepted = 0; // a plain number on the hot path: figures() reads it on demand
    return {
      async start() {
        const web = ctx.config.web ? ctx.peer(ctx.config.web) : undefined;
        const banner = web?.url ? `${ctx.config.banner} (web at ${web.url})` : ctx.config.banner;
        server = net.createServer((socket) => {
          sockets.add(socket);
          accepted++;
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => socket.destroy());
          socket.write(`${banner}\n`);
          socket.pipe(socket);
        });
        try {
          // listenOn: the same listener helper the built-in kinds use (HX_ERR_LISTEN on failure)
          await listenOn(server, ctx.config.listen, { service: ctx.name, baseDir: ctx.baseDir, location: ctx.locate(['listen']), scheme: 'tcp' });
        } catch (error) {
          server = undefined;
          throw error;
        }
        server.on('error', (err) => ctx.crashed(err));
      },
      async stop(signal) {
        const current = server;
        if (!current) return;
        server = undefined;
        const closed = new Promise((resolve) => current.close(() => resolve()));
        for (const socket of sockets) socket.end();
        const force = () => sockets.forEach((s) => s.destroy());
        if (signal.aborted) force();
        else signal.addEventListener('abort', force, { once: true });
        await closed;
      },
      address() {
        const a = server?.address();
        return a && typeof a === 'object' ? formatListen({ host: a.address, port: a.port }, 'tcp') : undefined;
      },
      // what `hendrix status`, GET /metrics (hendrix_echo_connections{service="echo"}) and the dashboard show
      figures() {
        return [
          { type: 'gauge', name: 'echo_connections', help: 'Clients connected now.', value: sockets.size },
          { type: 'counter', name: 'echo_connections_total', help: 'Clients accepted since the service started.', value: accepted },
        ];
      },
    };
  },
});
