import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

/** A TCP proxy on 127.0.0.1:0 in front of a server, whose WebSocket upgrades a test can cut. */
export interface CutProxy {
  /** `http://127.0.0.1:<port>` of the proxy. */
  readonly url: string;
  /** Holds back what the server sends on open upgrades (what the client sends still passes). */
  stall(): void;
  /** Destroys every open upgrade and refuses new ones until restore(); plain HTTP still passes. */
  cut(): void;
  /** Lets upgrades through again. */
  restore(): void;
  close(): Promise<void>;
}

/**
 * Starts a proxy to `port` on 127.0.0.1. It reads the first bytes of each connection: a request
 * to `upgradePath` is a WebSocket, the connection a cut breaks (a network drop as the browser
 * sees it: the socket closes without a close frame); anything else is plain HTTP and always
 * passes, so a page can still be (re)loaded while its WebSocket is down.
 */
export async function startCutProxy(port: number, upgradePath = '/hub'): Promise<CutProxy> {
  let down = false;
  const upgrades = new Map<Socket, Socket>();
  const all = new Set<Socket>();
  const server: Server = createServer((client) => {
    all.add(client);
    client.on('close', () => all.delete(client));
    client.on('error', () => undefined);
    client.once('data', (first: Buffer) => {
      const isUpgrade = first.toString('latin1', 0, 64).startsWith(`GET ${upgradePath}`) && /\r\nupgrade:\s*websocket/i.test(first.toString('latin1'));
      if (isUpgrade && down) return void client.destroy();
      const upstream = connect({ host: '127.0.0.1', port });
      all.add(upstream);
      upstream.on('close', () => {
        all.delete(upstream);
        client.destroy();
      });
      client.on('close', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      if (isUpgrade) {
        upgrades.set(client, upstream);
        client.on('close', () => upgrades.delete(client));
      }
      upstream.write(first);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const proxyPort = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    stall() {
      for (const [client, upstream] of upgrades) {
        upstream.unpipe(client);
        upstream.pause();
      }
    },
    cut() {
      down = true;
      for (const client of upgrades.keys()) client.destroy();
    },
    restore() {
      down = false;
    },
    async close() {
      for (const socket of all) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
