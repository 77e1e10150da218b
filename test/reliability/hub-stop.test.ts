import { createConnection, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CLOSE_GRACE_MS } from '../../services/pubsub/connection.js';
import { startHub, stopHubs } from '../helpers/pubsub/test-harness.js';

// One client cannot hold a graceful stop (issue #13): a client that completes the WebSocket
// handshake and keeps reading, but never answers the hub's close frame, is cut after a short
// grace, so the hub stops long before its stopTimeout (it held the stop for all 10 s before).

const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await stopHubs();
});

/** A raw client: upgrades, then reads everything and answers nothing (no close frame back). */
function silentClient(port: number): Promise<{ socket: Socket; received: () => Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    sockets.push(socket);
    const chunks: Buffer[] = [];
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (chunks.length === 1 && chunk.toString('latin1').startsWith('HTTP/1.1 101')) resolve({ socket, received: () => Buffer.concat(chunks) });
    });
    socket.write(
      'GET /hub HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
  });
}

describe('a client that never answers the close frame', () => {
  it('is cut after the close grace: the stop ends well before stopTimeout', async () => {
    const { hub, port } = await startHub();
    const clients = await Promise.all([silentClient(port), silentClient(port), silentClient(port)]);
    const closed = Promise.all(clients.map((c) => new Promise<void>((r) => c.socket.once('close', () => r()))));
    const started = performance.now();
    // the signal of a 10 s stopTimeout: the stop must not need it
    await hub.stop(AbortSignal.timeout(10_000));
    const took = performance.now() - started;
    await closed;
    expect(took).toBeLessThan(CLOSE_GRACE_MS + 5_000);
    for (const c of clients) {
      const bytes = c.received();
      // the close frame (opcode 0x8) with 1001 was sent before the cut
      const at = bytes.indexOf(Buffer.from([0x88]));
      expect(at, 'a close frame').toBeGreaterThan(0);
      expect(bytes.readUInt16BE(at + 2)).toBe(1001);
    }
  });
});
