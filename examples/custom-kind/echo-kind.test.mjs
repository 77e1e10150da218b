// The echo kind under the same contract suite the built-in kinds run: start resolves when
// ready, stop is idempotent and safe before start, failures are HendrixErrors, nothing leaks,
// a forced stop is prompt. Run with vitest (npm test runs it).
import net from 'node:net';
import { describeServiceContract, PortBlockers } from 'hendrix/testing';
import echoKind from './echo-kind.mjs';

const blockers = new PortBlockers();

/** Connects, reads the banner, sends a line and expects it back. */
function echoes(address) {
  const { hostname, port } = new URL(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.once('data', () => socket.write('ping\n'));
    socket.on('data', (chunk) => {
      data += chunk;
      if (data.includes('ping\n')) {
        socket.destroy();
        resolve();
      }
    });
  });
}

describeServiceContract({
  kind: echoKind,
  name: 'echo',
  goodConfig: () => ({ listen: '127.0.0.1:0' }),
  failingConfig: async () => ({ listen: `127.0.0.1:${await blockers.hold()}` }),
  failingCode: 'HX_ERR_LISTEN',
  probe: (_service, address) => echoes(address),
  // a client that stays connected: a forced stop must cut it
  openClient(_service, address) {
    const { hostname, port } = new URL(address);
    return new Promise((opened, failed) => {
      const socket = net.connect({ host: hostname, port: Number(port) });
      socket.once('error', failed);
      socket.once('data', () => {
        socket.off('error', failed);
        socket.on('error', () => undefined);
        opened(() => socket.destroy());
      });
    });
  },
  teardown: () => blockers.release(),
});
