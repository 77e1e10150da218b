// Runs the built http service (dist/, plain Node: no test runner's module loader in between)
// through in-place reloads, and prints what it saw as one JSON line.
//
//   node test/helpers/http/reload-dist.mjs check             5 reloads, each changing a module the app imports
//   node --expose-gc test/helpers/http/reload-dist.mjs memory 50   memory left per reload that changed the code
//
// Needs `npm run build` first.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { HttpService } from '../../../dist/services/http/service.js';
import { httpSchema } from '../../../dist/services/http/schema.js';
import { versioningActive } from '../../../dist/services/http/fresh-import.js';
import { commonServiceFields } from '../../../dist/src/kinds/common-schema.js';
import { createSilentLogger } from '../../../dist/src/log/logger.js';

const schema = httpSchema.extend({ kind: z.string(), ...commonServiceFields });
const dir = mkdtempSync(join(tmpdir(), 'hendrix-reload-dist-'));
const configOf = (fields = {}) => schema.parse({ kind: 'http', listen: '127.0.0.1:0', app: './app.mjs', ...fields });
const app = `import { label, table } from './lib.mjs';\nexport default (req, res) => res.end(label + ' ' + table.length);\n`;
// a small module with some code and data, as an app's own module would have
const lib = (n) =>
  `const runs = (globalThis.libRuns ??= []);\nruns.push(${n});\nexport const label = 'v${n}';\nexport const table = Array.from({ length: 200 }, (_, i) => ({ i, name: 'row ' + i }));\n` +
  Array.from({ length: 20 }, (_, i) => `export function helper${i}(x) { return x * ${i} + table.length; }\n`).join('');

writeFileSync(join(dir, 'app.mjs'), app);
writeFileSync(join(dir, 'lib.mjs'), lib(0));
const ctx = {
  name: 'web',
  kind: 'http',
  config: configOf(),
  log: createSilentLogger(),
  baseDir: dir,
  location: undefined,
  locate: () => undefined,
  peer: (name) => {
    throw new Error(`no peer ${name}`);
  },
  crashed: () => {},
  waiting: () => {},
};
const service = new HttpService(ctx);
await service.start(AbortSignal.timeout(10_000));
const url = service.address();
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const sockets = new Set();
let closed = 0;
const get = () =>
  new Promise((resolve, reject) => {
    request(url, { agent }, (res) => {
      if (!sockets.has(res.socket)) {
        sockets.add(res.socket);
        res.socket.once('close', () => closed++);
      }
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
// a plain signal: AbortSignal.timeout() keeps a timer (and the signal) alive for its whole delay
const reload = (fields) => service.reload(configOf(fields), new AbortController().signal);

const mode = process.argv[2] ?? 'check';
const result = { mode, bodies: [await get()], hookAtStart: versioningActive() };
if (mode === 'check') {
  for (let n = 1; n <= 5; n++) {
    writeFileSync(join(dir, 'lib.mjs'), lib(n));
    await reload();
    result.bodies.push(await get());
  }
  await reload({ keepAliveTimeout: '6s' });
  result.bodies.push(await get());
  result.hookAfter = versioningActive();
} else {
  const n = Number(process.argv[3] ?? 50);
  const measure = () => {
    globalThis.gc();
    globalThis.gc();
    const { heapUsed, rss } = process.memoryUsage();
    return { heapUsed, rss };
  };
  const unchanged = async (count) => {
    for (let i = 0; i < count; i++) {
      await reload({ keepAliveTimeout: i % 2 ? '6s' : '5s' });
      await get();
    }
  };
  // the first versioned reload loads the hook, the first reloads warm the code up: measure from after them
  writeFileSync(join(dir, 'lib.mjs'), lib(1));
  await reload();
  await get();
  await unchanged(50);
  // the control: as many requests without a reload
  const requestsBase = measure();
  for (let i = 0; i < n; i++) await get();
  const unchangedBase = measure();
  await unchanged(n);
  const unchangedEnd = measure();
  for (let i = 2; i < n + 2; i++) {
    writeFileSync(join(dir, 'lib.mjs'), lib(i));
    await reload();
    await get();
  }
  const changedEnd = measure();
  const perReload = (a, b) => ({ heapUsed: Math.round((b.heapUsed - a.heapUsed) / n), rss: Math.round((b.rss - a.rss) / n) });
  result.reloads = n;
  result.requestsOnlyPerRound = perReload(requestsBase, unchangedBase);
  result.unchangedPerReload = perReload(unchangedBase, unchangedEnd);
  result.changedPerReload = perReload(unchangedEnd, changedEnd);
  result.bodies.push(await get());
}
result.libRuns = globalThis.libRuns;
result.sockets = sockets.size;
result.closed = closed;
agent.destroy();
await service.stop(AbortSignal.timeout(5_000));
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(result)}\n`);
