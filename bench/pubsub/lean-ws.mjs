// bench/pubsub: a lean WebSocket client for the load generator's subscribers (RFC 6455, the
// parts a subscriber needs: the upgrade, unfragmented text frames in, masked text frames and
// pongs out, close). The `ws` client costs ~1 µs of the load generator's CPU per received
// frame (a Receiver state machine, an event and a Buffer per message), which made the load
// generator, not the server, the bottleneck of the burst; this one hands each frame to the
// caller as offsets into the bytes read, with no allocation per frame. Not a general client:
// no fragmented messages, no extensions.
import { randomBytes } from 'node:crypto';
import http from 'node:http';

/**
 * Opens a WebSocket to `url` (ws://). `onFrame(buf, start, end)` gets each text or binary
 * message's payload; pings are answered. Resolves once the upgrade is done.
 */
export function leanConnect(url, { onFrame, onClose, timeoutMs = 30_000 }) {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: target.hostname,
      port: target.port || 80,
      path: `${target.pathname}${target.search}`,
      agent: false,
      timeout: timeoutMs,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') },
    });
    req.on('timeout', () => req.destroy(new Error(`no upgrade from ${url} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => reject(new Error(`${url}: HTTP ${res.statusCode} instead of an upgrade`)));
    req.on('upgrade', (_res, socket, head) => {
      socket.setNoDelay(true);
      let pending = head.length > 0 ? head : undefined;
      let closed = false;
      const finish = (code) => {
        if (closed) return;
        closed = true;
        onClose?.(code);
      };
      const send = (opcode, payload) => {
        const length = payload.length;
        const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
        const frame = Buffer.allocUnsafe(header + 4 + length);
        frame[0] = 0x80 | opcode;
        if (header === 2) frame[1] = 0x80 | length;
        else if (header === 4) {
          frame[1] = 0x80 | 126;
          frame.writeUInt16BE(length, 2);
        } else {
          frame[1] = 0x80 | 127;
          frame.writeBigUInt64BE(BigInt(length), 2);
        }
        const mask = randomBytes(4);
        mask.copy(frame, header);
        for (let i = 0; i < length; i++) frame[header + 4 + i] = payload[i] ^ mask[i & 3];
        if (!socket.destroyed) socket.write(frame);
      };
      const parse = (chunk) => {
        const buf = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
        pending = undefined;
        let at = 0;
        for (;;) {
          if (buf.length - at < 2) break;
          const opcode = buf[at] & 0x0f;
          let length = buf[at + 1] & 0x7f;
          let start = at + 2;
          if (length === 126) {
            if (buf.length - at < 4) break;
            length = buf.readUInt16BE(at + 2);
            start = at + 4;
          } else if (length === 127) {
            if (buf.length - at < 10) break;
            length = Number(buf.readBigUInt64BE(at + 2));
            start = at + 10;
          }
          const end = start + length;
          if (end > buf.length) break;
          if (opcode === 1 || opcode === 2) onFrame(buf, start, end);
          else if (opcode === 9) send(10, buf.subarray(start, end));
          else if (opcode === 8) {
            finish(length >= 2 ? buf.readUInt16BE(start) : 1005);
            socket.end();
          }
          at = end;
        }
        if (at < buf.length) pending = buf.subarray(at);
      };
      socket.on('data', parse);
      socket.on('close', () => finish(1006));
      socket.on('error', () => finish(1006));
      if (pending !== undefined) {
        const first = pending;
        pending = undefined;
        parse(first);
      }
      resolve({ sendText: (text) => send(1, Buffer.from(text)), terminate: () => socket.destroy() });
    });
    req.end();
  });
}
