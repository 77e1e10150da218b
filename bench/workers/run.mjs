#!/usr/bin/env node
// bench/workers: hello world over several processes — hendrix `workers: 2` against bare
// node:cluster with 2 workers, plus hendrix `workers: 1` and one bare node:http process for the
// scaling ratios; the same wrk load, alternated rounds, and the RSS of each primary and worker
// after the load. The hub fan-out across workers is hub.mjs, a separate script (README.md).
const USAGE = `Usage: npm run build && node bench/workers/run.mjs [options]
  --rounds N        alternated rounds; medians are over them (default 3)
  --duration S      seconds of each measured wrk pass (default 5)
  --warmup S        seconds of the discarded wrk pass before it (default 2)
  --threads N       wrk -t (default 2)
  --connections N   wrk -c (default 64); the issue's figures use the defaults
  --help            this text
Needs wrk and pgrep (procps). The hub fan-out across workers: node bench/workers/hub.mjs --help`;
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { median, settle, cpuSeconds, requireTools, requireBuild } from '../tls/machine.mjs';
import { run, spawnTracked, freePort, sleep, childrenOf, rssMb, stopGroup, controlSocket } from './processes.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, duration: { type: 'string', default: '5' }, warmup: { type: 'string', default: '2' }, threads: { type: 'string', default: '2' }, connections: { type: 'string', default: '64' }, help: { type: 'boolean', default: false } },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const rounds = Number(values.rounds);
requireTools([['wrk', ['--version']], ['pgrep', ['--version'], 'procps']]);
requireBuild(root);
// Other engineers' tests share this machine: the load average before and after says how much.
const loadBefore = loadavg();

const hendrixCli = [`${root}bin/hendrix.js`, 'up', '-f', `${here}hendrix.yaml`];

/** The contenders; `workers` is how many worker processes to wait for before measuring. */
const CONTENDERS = [
  { key: 'cluster', label: 'node:cluster ×2', argv: [`${here}cluster.mjs`], env: { WORKERS: '2' }, workers: 2 },
  { key: 'node', label: 'node:http ×1', argv: [`${here}bare.mjs`], workers: 0 },
  { key: 'hendrix1', label: 'hendrix workers: 1', argv: [...hendrixCli, '--workers', '1'], workers: 0, hendrix: true },
  { key: 'hendrix2', label: 'hendrix workers: 2', argv: [...hendrixCli, '--workers', '2'], workers: 2, hendrix: true },
];
const active = CONTENDERS;

/** Starts a contender and waits for a 200 and for its worker processes; throws after 30 s. */
async function launch(contender) {
  const port = await freePort();
  const argv = contender.hendrix ? [...contender.argv, '--control', controlSocket()] : contender.argv;
  const child = spawnTracked(process.execPath, argv, { env: { ...process.env, ...contender.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'], group: true });
  const deadline = performance.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${contender.label} exited before answering`);
    if (performance.now() > deadline) throw new Error(`${contender.label} did not answer with ${contender.workers} workers within 30 s`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      await res.text();
      if (res.ok && childrenOf(child.pid).length >= contender.workers) return { port, child };
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
}

/** One wrk pass (-t2 -c64 by default): requests per second; warns when responses were not all 2xx. */
function wrk(port, seconds) {
  return new Promise((resolve, reject) => {
    let out = '';
    const loadGenerator = spawnTracked('wrk', [`-t${values.threads}`, `-c${values.connections}`, `-d${seconds}s`, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'inherit'] });
    loadGenerator.stdout.on('data', (chunk) => (out += chunk));
    loadGenerator.once('exit', (code) => {
      if (run.interrupted) return; // the signal handler ends the run; no result, no error
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !rps) return reject(new Error(`wrk failed (${code}):\n${out}`));
      const trouble = /(Non-2xx or 3xx responses: \d+|Socket errors: .*)/.exec(out);
      if (trouble) console.error(`warning: ${trouble[1]}`);
      resolve(Number(rps[1]));
    });
  });
}

const results = Object.fromEntries(active.map((c) => [c.key, { rps: [], cpu: [], primary: [], workers: [] }]));
// CPU seconds of the primary and its workers: with wrk on the same cores, this says whether a
// contender could use the second CPU at all.
const serverCpu = (pid) => [pid, ...childrenOf(pid)].reduce((sum, p) => sum + cpuSeconds(p), 0);
for (let round = 0; round < rounds; round++) {
  // Rotate the order each round, so that no contender always runs first or right after another.
  const order = active.map((_, i) => active[(i + round) % active.length]);
  for (const contender of order) {
    const { port, child } = await launch(contender);
    await wrk(port, values.warmup); // warm-up pass (JIT, all workers accepting), discarded
    await settle(5);
    const r = results[contender.key];
    const cpuBefore = serverCpu(child.pid);
    r.rps.push(await wrk(port, values.duration));
    r.cpu.push((100 * (serverCpu(child.pid) - cpuBefore)) / Number(values.duration));
    r.primary.push(rssMb(child.pid));
    r.workers.push(...childrenOf(child.pid).map(rssMb));
    await stopGroup(contender.label, child);
  }
}

const rps = (key) => (results[key] ? median(results[key].rps) : null);
const fmt = (x, d = 0) => (x == null ? '—' : x.toFixed(d));
const loads = (l) => l.map((x) => x.toFixed(2)).join(' ');
console.log(`bench/workers — ${rounds} alternated rounds, wrk -t${values.threads} -c${values.connections} -d${values.duration}s (after a ${values.warmup} s warm-up), node ${process.version}, ${availableParallelism()} CPUs, load average ${loads(loadBefore)} before, ${loads(loadavg())} after`);
console.log(`${'contender'.padEnd(22)}${'req/s (median)'.padStart(15)}  server CPU %   RSS MB after load: primary, workers median (max)   all rounds req/s`);
for (const c of CONTENDERS) {
  const r = results[c.key];
  const mem = `${fmt(median(r.primary), 1)}, ${r.workers.length ? `${fmt(median(r.workers), 1)} (${fmt(Math.max(...r.workers), 1)})` : 'no workers'}`;
  console.log(`${c.label.padEnd(22)}${fmt(median(r.rps)).padStart(15)}${fmt(median(r.cpu)).padStart(14)}   ${mem.padEnd(48)}${r.rps.map((x) => fmt(x)).join(', ')}`);
}

const ratio = (a, b) => (a == null || b == null ? null : a / b);
const verdict = (x, ok) => (x == null ? 'n/a' : ok(x) ? 'met' : 'NOT met');
const lines = [
  ['hendrix ×2 / node:cluster ×2', ratio(rps('hendrix2'), rps('cluster')), 'goal ≥ 0.95', (x) => x >= 0.95],
  ['hendrix ×2 / hendrix ×1', ratio(rps('hendrix2'), rps('hendrix1')), 'goal ≥ 1.6', (x) => x >= 1.6],
  ['node:cluster ×2 / node:http ×1', ratio(rps('cluster'), rps('node')), 'reference, no goal: what a 2nd process gives here, with wrk on the same CPUs', null],
];
console.log('\nratios of median req/s');
for (const [name, x, goal, ok] of lines) console.log(`${name.padEnd(32)}${fmt(x, 3).padStart(7)}   ${goal}${ok ? ` — ${verdict(x, ok)}` : ''}`);

// RSS goals: the largest hendrix worker against the median bare cluster worker, and the primary.
const h2 = results.hendrix2;
const clusterWorker = median(results.cluster.workers);
const extra = h2?.workers.length ? Math.max(...h2.workers) - clusterWorker : null;
const primary = h2 ? median(h2.primary) : null;
console.log('\nRSS after load');
console.log(`${'hendrix worker − cluster worker'.padEnd(32)}${(extra == null ? '—' : `${extra >= 0 ? '+' : ''}${fmt(extra, 1)} MB`).padStart(10)}   goal ≤ +20 MB (largest hendrix worker vs median node:cluster worker) — ${verdict(extra, (x) => x <= 20)}`);
console.log(`${'hendrix primary'.padEnd(32)}${(primary == null ? '—' : `${fmt(primary, 1)} MB`).padStart(10)}   goal < 60 MB (node:cluster primary: ${fmt(median(results.cluster.primary), 1)} MB) — ${verdict(primary, (x) => x < 60)}`);
