import { createServer, type Server, type Socket } from 'node:net';
import type { CloseClient } from './contract.js';

/**
 * One keep-alive HTTP/1.1 connection on `socket` (plain or TLS) to a service running the
 * fetch-stream.mjs fixture: /ping answered, then /hang held mid-response (it streams 'waiting'
 * and never ends). Resolves once 'waiting' arrived, with a function that closes the connection.
 */
export function holdMidResponse(socket: Socket): Promise<CloseClient> {
  return new Promise((opened, failed) => {
    let received = '';
    socket.on('error', failed);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!received.includes('waiting')) return;
      socket.removeAllListeners('data');
      socket.off('error', failed);
      socket.on('error', () => undefined); // the forced stop resets it
      opened(() => void socket.destroy());
    });
    socket.write('GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\nGET /hang HTTP/1.1\r\nHost: localhost\r\n\r\n');
  });
}

/** Loopback ports held by listeners of our own, so that a service asked to listen there fails. */
export class PortBlockers {
  readonly #servers: Server[] = [];

  /** Holds a free loopback port and returns it. */
  async hold(): Promise<number> {
    const blocker = createServer();
    this.#servers.push(blocker);
    await new Promise<void>((listening) => blocker.listen(0, '127.0.0.1', listening));
    return (blocker.address() as { port: number }).port;
  }

  /** Releases every held port. */
  async release(): Promise<void> {
    await Promise.all(this.#servers.splice(0).map((b) => new Promise((closed) => b.close(closed))));
  }
}
