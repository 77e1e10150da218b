import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** Options of a hand-built WebSocket frame, valid or not. */
export interface FrameOptions {
  fin?: boolean;
  /** The three reserved bits (0–7): set ones are a protocol error without an extension. */
  rsv?: number;
  /** Client frames must be masked; false sends an unmasked one. */
  mask?: boolean;
  /** The length written in the header, when it should lie about the payload. */
  length?: number;
}

/** Encodes one WebSocket frame (RFC 6455 §5.2) byte by byte, however wrong it is asked to be. */
export function encodeFrame(opcode: number, payload: Buffer, options: FrameOptions = {}): Buffer {
  const { fin = true, rsv = 0, mask = true } = options;
  const length = options.length ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)];
  const maskBit = mask ? 0x80 : 0;
  let extended = Buffer.alloc(0);
  if (length < 126) head.push(maskBit | length);
  else if (length < 65_536) {
    head.push(maskBit | 126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(length);
  } else {
    head.push(maskBit | 127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(BigInt(length));
  }
  if (!mask) return Buffer.concat([Buffer.from(head), extended, payload]);
  const key = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] = (masked[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([Buffer.from(head), extended, key, masked]);
}

/** A raw TCP connection that did the WebSocket handshake and now writes whatever it is told. */
export interface RawWebSocket {
  readonly socket: Socket;
  /** Resolves when the server closed the connection (or it failed). */
  readonly closed: Promise<void>;
}

/** Opens a TCP connection to 127.0.0.1:`port`, upgrades it at `path`; rejects unless 101. */
export function rawWebSocket(port: number, path: string, timeoutMs = 5_000): Promise<RawWebSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let closedResolve: () => void = () => undefined;
    const closed = new Promise<void>((r) => (closedResolve = r));
    socket.on('close', () => closedResolve());
    socket.on('error', (error) => reject(error));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no handshake answer'));
    }, timeoutMs);
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      clearTimeout(timer);
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        return;
      }
      socket.on('data', () => undefined); // keep reading what the hub sends, unless paused
      resolve({ socket, closed });
    };
    socket.on('data', onData);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}
