// bench/raw: hendrix's sender path — a RawService (the built dist/, as `hendrix up` runs it)
// opened on IFACE, frames sent through its handle as fast as its queue takes them (a static
// 60-byte frame, or a `${seq}` template built per frame), for a number of seconds. Prints
// JSON: frames sent, seconds, user/sys CPU of the process during the run (µs).
// Usage: node hendrix-send.mjs IFACE SECONDS static|template [NETNS]
import { z } from 'zod';
import { createSilentLogger } from '../../dist/src/log/logger.js';
import { commonServiceFields } from '../../dist/src/runtime/common-schema.js';
import { rawSchema } from '../../dist/services/raw/schema.js';
import { RawService } from '../../dist/services/raw/service.js';

const [iface, secondsText, mode, netns] = process.argv.slice(2);
const seconds = Number(secondsText);
const config = rawSchema.safeExtend({ kind: z.string(), ...commonServiceFields }).parse({
  kind: 'raw',
  interface: iface,
  ...(netns ? { netns } : {}),
  source: '02:00:00:00:00:00',
  payload: mode === 'template' ? 'b ${seq}' : 'bench',
  maxRate: 100_000_000,
  maxQueue: 8192,
});
const ctx = {
  name: 'bench',
  kind: 'raw',
  config,
  log: createSilentLogger(),
  baseDir: process.cwd(),
  location: undefined,
  locate: () => undefined,
  peer: () => {
    throw new Error('no peers');
  },
  crashed: (error) => {
    console.error(error);
    process.exit(1);
  },
};
const service = new RawService(ctx);
await service.start(AbortSignal.timeout(5_000));
const handle = service.handle();
const turn = () => new Promise((resolve) => setImmediate(resolve));
// warm up (JIT, first batches), then measure
// each turn of the event loop tops the queue up to 4096 frames; the sender drains it in sendmmsg batches
const fill = () => {
  for (let n = 4096 - handle.stats().queued; n > 0; n--) handle.send();
};
for (let end = performance.now() + 300; performance.now() < end; ) {
  fill();
  await turn();
}
const sentBefore = handle.stats().sent;
const cpu = process.cpuUsage();
const started = performance.now();
const end = started + seconds * 1000;
while (performance.now() < end) {
  fill();
  await turn();
}
const elapsed = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
const { sent, dropped } = handle.stats();
await service.stop(AbortSignal.abort());
// total: every frame sent, warm-up included (what the peer's counter sees)
console.log(JSON.stringify({ frames: sent - sentBefore, total: sent, dropped, seconds: elapsed, userUs: used.user, sysUs: used.system }));
