#!/usr/bin/env node
// bench/workers: hello world over several processes — hendrix `workers: 2` against bare
// node:cluster with 2 workers, plus hendrix `workers: 1` and one bare node:http process for the
// scaling ratios; the same wrk load, alternated rounds, and the RSS of each primary and worker
// after the load. The hendrix ×2 contender runs only once `hendrix up` accepts `--workers` (#15).
// Usage: npm run build && node bench/workers/run.mjs [--rounds 3] [--duration 5] [--warmup 2]
//        [--threads 2] [--connections 64]   (wrk's -t and -c; the issue's figures use the defaults)
//
// TODO(#15, hub fan-out across workers — a later part, not built here): measure pub/sub hub
// deliveries/s and server CPU seconds per delivery with the subscribers spread over 2 workers
// against the single-process hub (bench/pubsub's load), goal: CPU per delivery ≤ 1.2× the
// single-process hub's.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { median, settle, cpuSeconds, requireTools, requireBuild } from '../tls/machine.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, duration: { type: 'string', default: '5' }, warmup: { type: 'string', default: '2' }, threads: { type: 'string', default: '2' }, connections: { type: 'string', default: '64' } },
});
const rounds = Number(values.rounds);
requireTools([['wrk', ['--version']], ['pgrep', ['--version'], 'procps']]);
requireBuild(root);

const hendrixCli = [`${root}bin/hendrix.js`, 'up', '-f', `${here}hendrix.yaml`];
const help = (() => {
  try {
    return execFileSync(process.execPath, [`${root}bin/hendrix.js`, 'up', '--help'], { encoding: 'utf8' });
  } catch (error) {
    return `${error.stdout ?? ''}`;
  }
})();
const hasWorkers = help.includes('--workers');

/** The contenders; `workers` is how many worker processes to wait for before measuring. */
const CONTENDERS = [
  { key: 'cluster', label: 'node:cluster ×2', argv: [`${here}cluster.mjs`], env: { WORKERS: '2' }, workers: 2 },
  { key: 'node', label: 'node:http ×1', argv: [`${here}bare.mjs`], workers: 0 },
  { key: 'hendrix1', label: 'hendrix workers: 1', argv: [...hendrixCli, ...(hasWorkers ? ['--workers', '1'] : [])], workers: 0 },
  { key: 'hendrix2', label: 'hendrix workers: 2', argv: [...hendrixCli, '--workers', '2'], workers: 2, missing: !hasWorkers },
];
const active = CONTENDERS.filter((c) => !c.missing);

// Every server runs in its own process group (detached), so that a primary and its workers can be
// ended together by the group's id, whatever happened to the primary; wrk is tracked as well.
const live = new Set();
let loadGenerator = null;
let interrupted = false;
function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}
process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
  loadGenerator?.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the servers`);
    loadGenerator?.kill('SIGKILL');
    for (const child of live) killGroup(child, 'SIGTERM');
    setTimeout(() => process.exit(130), live.size ? 2000 : 0); // the exit handler SIGKILLs what is left
  });
}

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const childrenOf = (pid) => {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
};
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** Starts a contender and waits for a 200 and for its worker processes; throws after 30 s. */
async function launch(contender) {
  const port = await freePort();
  const child = spawn(process.execPath, contender.argv, { env: { ...process.env, ...contender.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  live.add(child);
  child.once('exit', () => live.delete(child));
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

/** Stops the primary with SIGTERM (its own graceful path), then ends any process left in its group. */
async function stop(contender, child) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  if (child.exitCode !== 0) console.error(`warning: ${contender.label} exited with ${child.exitCode ?? child.signalCode} after SIGTERM`);
  if (killGroup(child, 0)) {
    console.error(`warning: ${contender.label} left processes behind after its primary exited; killing them`);
    killGroup(child, 'SIGKILL');
  }
}

/** One wrk pass (-t2 -c64 by default): requests per second; warns when responses were not all 2xx. */
function wrk(port, seconds) {
  return new Promise((resolve, reject) => {
    let out = '';
    loadGenerator = spawn('wrk', [`-t${values.threads}`, `-c${values.connections}`, `-d${seconds}s`, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'inherit'] });
    loadGenerator.stdout.on('data', (chunk) => (out += chunk));
    loadGenerator.once('exit', (code) => {
      loadGenerator = null;
      if (interrupted) return; // the signal handler ends the run; no result, no error
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
    await stop(contender, child);
  }
}

const rps = (key) => (results[key] ? median(results[key].rps) : null);
const fmt = (x, d = 0) => (x == null ? '—' : x.toFixed(d));
console.log(`bench/workers — ${rounds} alternated rounds, wrk -t${values.threads} -c${values.connections} -d${values.duration}s (after a ${values.warmup} s warm-up), node ${process.version}, ${availableParallelism()} CPUs`);
console.log(`${'contender'.padEnd(22)}${'req/s (median)'.padStart(15)}  server CPU %   RSS MB after load: primary, workers median (max)   all rounds req/s`);
for (const c of CONTENDERS) {
  if (c.missing) {
    console.log(`${c.label} — not available yet (#15)`);
    continue;
  }
  const r = results[c.key];
  const mem = `${fmt(median(r.primary), 1)}, ${r.workers.length ? `${fmt(median(r.workers), 1)} (${fmt(Math.max(...r.workers), 1)})` : 'no workers'}`;
  console.log(`${c.label.padEnd(22)}${fmt(median(r.rps)).padStart(15)}${fmt(median(r.cpu)).padStart(14)}   ${mem.padEnd(48)}${r.rps.map((x) => fmt(x)).join(', ')}`);
}

const ratio = (a, b) => (a == null || b == null ? null : a / b);
const verdict = (x, ok) => (x == null ? 'n/a until #15' : ok(x) ? 'met' : 'NOT met');
const lines = [
  ['hendrix ×2 / node:cluster ×2', ratio(rps('hendrix2'), rps('cluster')), 'goal ≥ 0.95', (x) => x >= 0.95],
  ['hendrix ×2 / hendrix ×1', ratio(rps('hendrix2'), rps('hendrix1')), 'goal ≥ 1.6', (x) => x >= 1.6],
  ['node:cluster ×2 / node:http ×1', ratio(rps('cluster'), rps('node')), 'reference: 1.81 measured on this machine', null],
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
