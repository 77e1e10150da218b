// Misuses the addon on purpose, in a child process (an abort would take the test runner with
// it): every call after close, close twice, open failures, bad arguments, a socket dropped
// without close. Prints one JSON line of what happened; the process must then exit by itself
// (nothing the addon opened may keep the event loop alive once closed).
// Usage: node --expose-gc misuse.mjs <addon.node> <netns path> <iface> <peer iface>
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';

const [addonFile, netns, iface, peer] = process.argv.slice(2);
const { RawSocket, interfaceInfo } = createRequire(import.meta.url)(addonFile);
const out = {};
const attempt = (name, fn) => {
  try {
    out[name] = { value: fn() ?? null };
  } catch (error) {
    out[name] = { error: error.code ?? error.name, type: error.constructor.name };
  }
};

attempt('openMissing', () => new RawSocket('nope0', { netns }));
attempt('openBadNetns', () => new RawSocket(iface, { netns: '/nonexistent/netns' }));
attempt('infoMissing', () => interfaceInfo('nope0', netns));
attempt('noNew', () => RawSocket(iface));
attempt('noName', () => new RawSocket());
attempt('longName', () => new RawSocket('x'.repeat(16), { netns }));
attempt('closeOnPlainObject', () => RawSocket.prototype.close.call({}));

const socket = new RawSocket(iface, { netns });
const frame = Buffer.alloc(60, 0xff);
frame.writeUInt16BE(0x88b5, 12);
attempt('sendOpen', () => socket.send(frame));
attempt('sendString', () => socket.send('frame'));
attempt('sendBatchNotBuffers', () => socket.sendBatch([frame, 1]));
attempt('sendBatchNotArray', () => socket.sendBatch(frame));
attempt('startReceiveNoCallback', () => socket.startReceive());
attempt('recvOnSendSocket', () => socket.recv());
attempt('close', () => socket.close());
attempt('closeAgain', () => socket.close());
attempt('closed', () => socket.closed);
attempt('sendAfterClose', () => socket.send(frame));
attempt('sendBatchAfterClose', () => socket.sendBatch([frame, frame]));
attempt('recvAfterClose', () => socket.recv());
attempt('startReceiveAfterClose', () => socket.startReceive(() => {}));
attempt('waitWritableAfterClose', () => socket.waitWritable(() => {}));
attempt('stopReceiveAfterClose', () => socket.stopReceive());
attempt('refAfterClose', () => socket.ref().unref() === socket);

// dropped without close: the finalizer closes the descriptor
const fds = () => readdirSync('/proc/self/fd').length;
const before = fds();
(() => {
  for (let i = 0; i < 20; i++) new RawSocket(iface, { netns });
})();
const opened = fds() - before;

// a receiving socket closed from inside its own callback, a writable wait pending
const receiver = new RawSocket(peer, { netns, protocol: 0x88b5 });
const sender = new RawSocket(iface, { netns });
let delivered = 0;
receiver.waitWritable(() => {});
receiver.startReceive((error, frames) => {
  delivered += frames?.length ?? 0;
  receiver.close();
  receiver.close();
});
// an unref'd receiving socket never closed must not hold the process either
const idle = new RawSocket(peer, { netns, protocol: 0x88b6 });
idle.startReceive(() => {});
idle.unref();
sender.send(frame);
sender.send(frame);
sender.close();

setTimeout(() => {
  globalThis.gc();
  setTimeout(() => {
    out.leakedAfterGc = fds() - before;
    out.openedBeforeGc = opened;
    out.delivered = delivered;
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }, 50);
}, 100);
