import { createServer, type Server, type Socket } from 'node:net';

/** One client connection of the scripted server. */
export interface FakeConnection {
  readonly socket: Socket;
  /** Every line the client sent so far. */
  readonly received: string[];
  /** Sends one raw line (CRLF added). */
  send(line: string): void;
  /** Sends raw bytes as they are (for broken input). */
  sendRaw(data: Buffer | string): void;
}

/** A scripted IRC server: what to answer to each line from a client. */
export type FakeScript = (line: string, connection: FakeConnection) => void;

/**
 * A tiny scripted IRC server on loopback, for what ngircd cannot do: SASL (ngircd has none)
 * and broken server lines. The real-server tests use ngircd.
 */
export class FakeIrcServer {
  readonly #server: Server;
  readonly connections: FakeConnection[] = [];

  private constructor(script: FakeScript) {
    this.#server = createServer((socket) => {
      const connection: FakeConnection = {
        socket,
        received: [],
        send: (line) => void (socket.writable && socket.write(`${line}\r\n`)),
        sendRaw: (data) => void (socket.writable && socket.write(data)),
      };
      this.connections.push(connection);
      socket.on('error', () => undefined);
      let buffer = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
          const line = buffer.slice(0, end).replace(/\r$/, '');
          buffer = buffer.slice(end + 1);
          connection.received.push(line);
          script(line, connection);
        }
      });
    });
  }

  /** Listens on 127.0.0.1:0. */
  static async start(script: FakeScript): Promise<FakeIrcServer> {
    const server = new FakeIrcServer(script);
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    return server;
  }

  /** `127.0.0.1:<port>`. */
  get address(): string {
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? `127.0.0.1:${address.port}` : '';
  }

  /** Closes the server and every connection. */
  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * The registration part of a script: CAP LS (offering `caps`), NICK/USER, then 001 and a
 * JOIN echo for every channel joined. `nick` follows the client's NICK lines.
 */
export function registrationScript(options: { caps?: string; onLine?: FakeScript } = {}): FakeScript {
  let nick = '*';
  let capEnded = options.caps === undefined;
  let user = false;
  const welcome = (c: FakeConnection): void => {
    if (!capEnded || !user || nick === '*') return;
    c.send(`:fake.test 001 ${nick} :Welcome ${nick}`);
    c.send(`:fake.test 376 ${nick} :End of MOTD`);
  };
  return (line, c) => {
    const [command = '', ...rest] = line.split(' ');
    switch (command.toUpperCase()) {
      case 'CAP':
        if (rest[0] === 'LS') c.send(`:fake.test CAP * LS :${options.caps ?? ''}`);
        else if (rest[0] === 'REQ') c.send(`:fake.test CAP * ACK ${rest.slice(1).join(' ')}`);
        else if (rest[0] === 'END') {
          capEnded = true;
          welcome(c);
        }
        break;
      case 'NICK':
        nick = rest[0] ?? nick;
        welcome(c);
        break;
      case 'USER':
        user = true;
        welcome(c);
        break;
      case 'JOIN':
        for (const channel of (rest[0] ?? '').split(',')) c.send(`:${nick}!bot@127.0.0.1 JOIN ${channel}`);
        break;
      case 'PING':
        c.send(`:fake.test PONG fake.test ${rest.join(' ')}`);
        break;
      default:
    }
    options.onLine?.(line, c);
  };
}
