// Preloaded into both servers alike (NODE_OPTIONS=--import): counts the TLS connections the
// server accepts, full handshakes and resumed sessions apart, and writes the counts to
// HANDSHAKE_COUNT_FILE on SIGUSR2 and at exit. wrk resumes a TLS session when it can, so "a new
// connection per request" is not always a full handshake: these counts say how many were.
// (hendrix gives SIGUSR2 no meaning; were it to, this hook would need another channel.)
import { writeFileSync } from 'node:fs';
import tls from 'node:tls';

const counts = { seq: 0, full: 0, resumed: 0 };
const emit = tls.Server.prototype.emit;
tls.Server.prototype.emit = function countingEmit(event, socket, ...rest) {
  if (event === 'secureConnection') counts[socket.isSessionReused() ? 'resumed' : 'full']++;
  return emit.call(this, event, socket, ...rest);
};
function write() {
  counts.seq++;
  if (process.env.HANDSHAKE_COUNT_FILE) writeFileSync(process.env.HANDSHAKE_COUNT_FILE, JSON.stringify(counts));
}
process.on('SIGUSR2', write);
process.on('exit', write);
