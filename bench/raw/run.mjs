#!/usr/bin/env node
// bench/raw: sustained raw frames per second and CPU per frame on a veth pair in a network
// namespace made for the run, hendrix's sender path (a RawService from dist/, frames through its
// handle: the same queue, batching and sendmmsg as `every` and `from` frames) against a C loop
// built only for the benchmark (send() per frame, and sendmmsg() batches: the practical limit
// on this machine), alternated rounds in the same run. 60-byte frames (a 5-byte payload, padded).
// Needs root (ip netns, CAP_NET_RAW), iproute2 and a C compiler.
// Usage: npm run build && node bench/raw/run.mjs [--rounds 3] [--seconds 2]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('.', import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '2' } } });
const rounds = Number(values.rounds);
const seconds = values.seconds;

if (process.getuid?.() !== 0) {
  console.error('bench/raw needs root: it makes a network namespace with a veth pair and opens raw sockets');
  process.exit(1);
}
for (const [command, pkg] of [['ip', 'iproute2'], ['cc', 'gcc']]) {
  if (spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0) {
    console.error(`bench/raw needs \`${command}\`: apt-get install -y ${pkg}`);
    process.exit(1);
  }
}

const work = mkdtempSync(join(tmpdir(), 'hendrix-bench-raw-'));
const csend = join(work, 'csend');
execFileSync('cc', ['-O2', '-o', csend, join(here, 'csend.c')]);
const ns = `hxbench-${process.pid}`;
const ip = (...args) => execFileSync('ip', args, { encoding: 'utf8' });
const cleanup = () => {
  spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

const delivered = () => JSON.parse(ip('-n', ns, '-s', '-j', 'link', 'show', 'hxb'))[0].stats64.rx.packets;

const TARGETS = {
  'C send() loop': () => ['ip', ['netns', 'exec', ns, csend, 'hxa', seconds, '1']],
  'C sendmmsg(64) loop': () => ['ip', ['netns', 'exec', ns, csend, 'hxa', seconds, '64']],
  'hendrix, fixed payload': () => [process.execPath, [join(here, 'hendrix-send.mjs'), 'hxa', seconds, 'static', ns]],
  'hendrix, ${seq} template': () => [process.execPath, [join(here, 'hendrix-send.mjs'), 'hxa', seconds, 'template', ns]],
};

const results = Object.fromEntries(Object.keys(TARGETS).map((name) => [name, []]));
try {
  ip('netns', 'add', ns);
  ip('-n', ns, 'link', 'add', 'hxa', 'type', 'veth', 'peer', 'name', 'hxb');
  ip('-n', ns, 'link', 'set', 'hxa', 'up');
  ip('-n', ns, 'link', 'set', 'hxb', 'up');
  for (let round = 1; round <= rounds; round++) {
    for (const [name, target] of Object.entries(TARGETS)) {
      const [command, args] = target();
      const before = delivered();
      const out = execFileSync(command, args, { encoding: 'utf8' });
      const run = JSON.parse(out.trim().split('\n').at(-1));
      run.delivered = delivered() - before;
      results[name].push(run);
      process.stderr.write(`round ${round} ${name}: ${Math.round(run.frames / run.seconds).toLocaleString('en')} frames/s\n`);
    }
  }
} finally {
  cleanup();
}

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const rows = Object.entries(results).map(([name, runs]) => ({
  name,
  fps: median(runs.map((r) => r.frames / r.seconds)),
  cpuNs: median(runs.map((r) => ((r.userUs + r.sysUs) * 1000) / r.frames)),
  userNs: median(runs.map((r) => (r.userUs * 1000) / r.frames)),
  delivered: median(runs.map((r) => r.delivered / (r.total ?? r.frames))),
}));
const limit = Math.max(...rows.filter((r) => r.name.startsWith('C ')).map((r) => r.fps));
console.log(`bench/raw: ${rounds} rounds of ${seconds}s, 60-byte frames on a veth pair; node ${process.version}, Linux ${release()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`);
console.log('| sender | frames/s (median) | CPU per frame | of which user | delivered to the peer | vs best C loop |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(`| ${r.name} | ${Math.round(r.fps).toLocaleString('en')} | ${r.cpuNs.toFixed(0)} ns | ${r.userNs.toFixed(0)} ns | ${(r.delivered * 100).toFixed(1)} % | ${(r.fps / limit).toFixed(2)}× |`);
}
const worst = Math.min(...rows.filter((r) => r.name.startsWith('hendrix')).map((r) => r.fps / limit));
console.log(`goal ≥ 0.5× the C loop: ${worst >= 0.5 ? 'met' : 'NOT met'} (hendrix's slowest path at ${worst.toFixed(2)}×)`);
