/**
 * Builds an unmasked WebSocket text frame (RFC 6455 §5.2) around a UTF-8 payload. The hub
 * frames each published message once and writes the same bytes to every subscriber, instead
 * of letting the WebSocket library frame it again per connection.
 */
export function textFrame(payload: Buffer): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
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
  payload.copy(frame, headerLength);
  return frame;
}

/** Frames a server-to-client JSON message. */
export function jsonFrame(message: unknown): Buffer {
  return textFrame(Buffer.from(JSON.stringify(message), 'utf8'));
}
