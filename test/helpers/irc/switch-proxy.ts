import { connect, createServer, type Server, type Socket } from 'node:net';

/** One connection through the proxy. */
export interface ProxiedConnection {
  /** Which upstream it went to (`host:port`). */
  readonly upstream: string;
  /** Every line the client sent through it, so far. */
  readonly clientLines: string[];
}

/**
 * A TCP proxy on loopback that sends the n-th client connection to the n-th upstream (the
 * last one for every connection after that): a bot whose `server` is the proxy meets a
 * scripted hostile server first and a real one when it reconnects. It records what the
 * client sends on each connection.
 */
export class SwitchProxy {
  readonly #server: Server;
  readonly #upstreams: readonly string[];
  readonly #sockets = new Set<Socket>();
  readonly connections: ProxiedConnection[] = [];

  private constructor(upstreams: readonly string[]) {
    this.#upstreams = upstreams;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Listens on 127.0.0.1:0; `upstreams` are `host:port`, in the order connections go to them. */
  static async start(upstreams: readonly string[]): Promise<SwitchProxy> {
    if (upstreams.length === 0) throw new Error('SwitchProxy needs at least one upstream');
    const proxy = new SwitchProxy(upstreams);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** `127.0.0.1:<port>`, for the bot's `server`. */
  get address(): string {
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? `127.0.0.1:${address.port}` : '';
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const target = this.#upstreams[Math.min(this.connections.length, this.#upstreams.length - 1)] as string;
    const record: ProxiedConnection = { upstream: target, clientLines: [] };
    this.connections.push(record);
    const colon = target.lastIndexOf(':');
    const upstream = connect({ host: target.slice(0, colon), port: Number(target.slice(colon + 1)) });
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('close', () => this.#sockets.delete(socket));
    }
    // either side closing closes the other: the bot must see the hostile server go away
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    let pending = '';
    client.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n')) {
        record.clientLines.push(Buffer.from(pending.slice(0, end).replace(/\r$/, ''), 'latin1').toString('utf8'));
        pending = pending.slice(end + 1);
      }
    });
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
