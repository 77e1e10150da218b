/**
 * Builds an unmasked WebSocket text frame (RFC 6455 §5.2) around a UTF-8 payload. The hub
 * frames each published message once and writes the same bytes to every subscriber, instead
 * of letting the WebSocket library frame it again per connection.
 */
export function textFrame(payload: Buffer): Buffer {
  const length = payload.length;
  const frame = Buffer.allocUnsafe(headerLength(length) + length);
  payload.copy(frame, writeHeader(frame, length));
  return frame;
}

/**
 * Frames a UTF-8 text without an intermediate buffer. `unpooled`: the frame gets an
 * ArrayBuffer of its own instead of a slice of Node's shared 8 KB pool — for frames kept long
 * (history), which would otherwise hold a whole pool slab each.
 */
export function textFrameOf(text: string, unpooled = false): Buffer {
  const length = Buffer.byteLength(text, 'utf8');
  const size = headerLength(length) + length;
  const frame = unpooled ? Buffer.allocUnsafeSlow(size) : Buffer.allocUnsafe(size);
  frame.write(text, writeHeader(frame, length), 'utf8');
  return frame;
}

/** The UTF-8 payload of an unmasked text frame built by textFrame()/textFrameOf(), as text. */
export function payloadOf(frame: Buffer): string {
  const marker = (frame[1] ?? 0) & 0x7f;
  return frame.toString('utf8', marker < 126 ? 2 : marker === 126 ? 4 : 10);
}

function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}

/** Writes the header of a text frame with a `length`-byte payload; returns where the payload starts. */
function writeHeader(frame: Buffer, length: number): number {
  frame[0] = 0x81; // FIN + text
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  return headerLength(length);
}

/** Frames a server-to-client JSON message. */
export function jsonFrame(message: unknown): Buffer {
  return textFrame(Buffer.from(JSON.stringify(message), 'utf8'));
}
