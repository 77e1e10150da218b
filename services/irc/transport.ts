import { EventEmitter } from 'node:events';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Transport, TransportClass, TransportOptions } from 'irc-framework';
import type { Logger } from 'pino';
import type { Clock } from '../../src/runtime/clock.js';
import { ThrottledWarning } from './throttled-warning.js';

/** The TLS settings of a connection, files already read. */
export interface TransportTls {
  /** PEM text of the CA to trust instead of the system ones. */
  readonly ca: string | undefined;
  readonly verify: boolean;
  readonly servername: string | undefined;
  /** How long the handshake may take after the TCP connection is up. */
  readonly handshakeTimeout: number;
}

/** What one session's transport reports back. */
export interface TransportSettings {
  readonly tls: TransportTls | undefined;
  /** Idle time after which the socket counts as dead (0: never). */
  readonly idleTimeout: number;
  readonly log: Logger;
  /** For the throttling of warnings about bad lines. */
  readonly clock: Clock;
  /** Every socket error, with whether it happened during the TLS handshake. */
  onSocketError(error: NodeJS.ErrnoException, duringHandshake: boolean): void;
}

/** The longest line accepted from the server (IRCv3 tags included); longer ones are dropped. */
const MAX_INCOMING_LINE = 16 * 1024;

/**
 * Builds the irc-framework transport class of one session: plain TCP or TLS with a `ca` of
 * our own (irc-framework's TLS has none), UTF-8 lines, and a guard so that a line the client
 * library cannot handle is logged and skipped instead of throwing out of a socket callback.
 * Those warnings are throttled (the first at once, then a count every 10 s): a hostile server
 * sending thousands of broken lines does not flood the log.
 */
export function createTransportClass(settings: TransportSettings): TransportClass {
  const { log, clock } = settings;
  const tooLong = new ThrottledWarning({ log, clock, field: 'skipped', message: (n) => `${n} line(s) from the server too long: dropped` });
  const unhandled = new ThrottledWarning({ log, clock, field: 'skipped', message: (n) => `${n} line(s) from the server could not be handled: skipped` });
  return class HendrixTransport extends EventEmitter implements Transport {
    readonly #options: TransportOptions;
    #socket: Socket | TLSSocket | undefined;
    #state: 'closed' | 'connecting' | 'open' = 'closed';
    #buffer: Buffer = Buffer.alloc(0);
    #lastError: Error | undefined;
    #handshaken = false;

    constructor(options: TransportOptions) {
      super();
      this.#options = options;
    }

    isConnected(): boolean {
      return this.#state === 'open';
    }

    connect(): void {
      this.disposeSocket();
      const { host, port } = this.#options;
      const tls = settings.tls;
      this.#state = 'connecting';
      this.#lastError = undefined;
      this.#handshaken = false;
      this.#buffer = Buffer.alloc(0);
      const socket =
        tls === undefined
          ? netConnect({ host, port })
          : tlsConnect({
              host,
              port,
              servername: tls.servername ?? (isIP(host) === 0 ? host : undefined),
              rejectUnauthorized: tls.verify,
              ...(tls.ca === undefined ? {} : { ca: tls.ca }),
            });
      this.#socket = socket;
      socket.setNoDelay(true);
      if (settings.idleTimeout > 0) socket.setTimeout(settings.idleTimeout);
      let handshake: NodeJS.Timeout | undefined;
      if (tls !== undefined) {
        socket.once('connect', () => {
          // a plain-text port answers a ClientHello with nothing (or with text): do not wait for the idle timeout
          handshake = setTimeout(() => {
            socket.destroy(Object.assign(new Error(`no TLS handshake within ${tls.handshakeTimeout} ms: is the port a TLS port?`), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }));
          }, tls.handshakeTimeout);
        });
        socket.once('close', () => clearTimeout(handshake));
      }
      socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
        clearTimeout(handshake);
        this.#handshaken = true;
        this.#state = 'open';
        this.emit('open');
      });
      socket.on('data', (chunk: Buffer) => this.#onData(chunk));
      socket.on('error', (error: NodeJS.ErrnoException) => {
        this.#lastError = error;
        settings.onSocketError(error, tls !== undefined && !this.#handshaken);
      });
      socket.on('timeout', () => {
        settings.log.debug({ idleMs: settings.idleTimeout }, 'connection idle too long');
        socket.destroy(Object.assign(new Error(`no data from the server for ${settings.idleTimeout} ms`), { code: 'ETIMEDOUT' }));
      });
      socket.once('close', () => {
        if (this.#socket !== socket) return;
        this.#state = 'closed';
        this.emit('close', this.#lastError ?? false);
      });
    }

    #onData(chunk: Buffer): void {
      let buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      for (let end = buffer.indexOf(0x0a); end !== -1; end = buffer.indexOf(0x0a)) {
        const line = buffer.subarray(0, end).toString('utf8').replace(/\r$/, '');
        buffer = buffer.subarray(end + 1);
        if (line !== '') this.#deliver(line);
        if (this.#socket === undefined) return; // a handler closed the connection
      }
      if (buffer.length > MAX_INCOMING_LINE) {
        tooLong.add(1, { bytes: buffer.length, maxBytes: MAX_INCOMING_LINE });
        buffer = Buffer.alloc(0);
      }
      this.#buffer = Buffer.from(buffer);
    }

    #deliver(line: string): void {
      try {
        this.emit('line', line);
      } catch (error) {
        // one bad line (or a bug in a handler) must not take the process down
        unhandled.add(1, { err: error, line: line.slice(0, 512) });
      }
    }

    writeLine(line: string, callback?: () => void): boolean {
      const socket = this.#socket;
      if (socket === undefined || this.#state !== 'open') {
        if (callback) process.nextTick(callback);
        return false;
      }
      socket.write(`${line}\r\n`, callback === undefined ? undefined : () => callback());
      return true;
    }

    close(force?: boolean): void {
      const socket = this.#socket;
      if (socket === undefined) return;
      if (force === true || this.#state !== 'open') socket.destroy();
      else socket.end();
    }

    /** Destroys the socket at once (a forced stop, or a new connect()). */
    disposeSocket(): void {
      const socket = this.#socket;
      if (socket === undefined) return;
      socket.removeAllListeners('data');
      if (!socket.destroyed) socket.destroy();
      if (this.#state !== 'closed') {
        this.#state = 'closed';
        this.emit('close', this.#lastError ?? false);
      }
      this.#socket = undefined;
    }

    setEncoding(encoding: string): boolean {
      return encoding.toLowerCase().replace('-', '') === 'utf8';
    }
  };
}
