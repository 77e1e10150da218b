import { createServer } from 'node:net';

/**
 * The ports the primary hands out for listeners on port 0 (ipc `port`): one free port per key
 * (`web/listen/127.0.0.1`), the same to every process that asks, for as long as the primary
 * runs — so that each service has a socket of its own in node:cluster (which shares one socket
 * per address and port, and sees every port 0 as one), and a replaced worker takes the same port
 * again instead of a new one.
 */
export interface PortBook {
  /** The port for `key`: found once (bound on `host`, port 0, and released), then remembered. */
  resolve(key: string, host: string): Promise<number>;
}

/** A free port on `host`, as the kernel picks it. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen({ host, port: 0, exclusive: true }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** A new, empty PortBook. */
export function createPortBook(): PortBook {
  const ports = new Map<string, Promise<number>>();
  return {
    resolve(key, host) {
      let port = ports.get(key);
      if (!port) {
        port = freePort(host);
        ports.set(key, port);
        // a failure is not remembered: the next process asks again
        port.catch(() => ports.delete(key));
      }
      return port;
    },
  };
}
