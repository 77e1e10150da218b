#!/usr/bin/env node
// bench/pubsub: fan-out of one publisher to many WebSocket subscribers, three servers in one
// run, each in its own process — the hendrix hub (`hendrix up` with a temporary manifest), a
// naive `ws` broadcast loop, and Socket.IO 4 `io.emit` — driven by the same load generator
// (subscribers.mjs: every subscriber and the publisher in one separate process, one clock).
// Per server: a burst (M messages published as fast as possible: deliveries/s and
// publish-to-delivery p50/p99) and a paced phase (R msg/s for S seconds: p50/p99).
// Usage: npm run build && node bench/pubsub/run.mjs [--subscribers 1000] [--messages 2000]
//        [--rate 50] [--seconds 5] [--rounds 1] [--servers hendrix,naive,socketio]
//        [--stall 15] [--profile DIR] [--json FILE]
// --profile: a --cpu-prof of every server and load generator into DIR (summarize one with
// profile-top.mjs); --json: every figure of every round, as the load generator reported it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '1' },
    servers: { type: 'string', default: 'hendrix,naive,socketio' },
    stall: { type: 'string', default: '15' },
    profile: { type: 'string' },
    json: { type: 'string' },
  },
});
const N = Number(values.subscribers);
const M = Number(values.messages);
const rounds = Number(values.rounds);
const servers = values.servers.split(',');
const profileDir = values.profile === undefined ? undefined : resolve(values.profile);
if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
if (!existsSync(`${root}dist/bundle/cli.js`)) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const LABEL = { hendrix: 'hendrix hub', naive: 'naive ws', socketio: 'socket.io 4' };
const children = new Set();
const temp = mkdtempSync(join(tmpdir(), 'hendrix-bench-pubsub-'));

function cleanup() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(temp, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/**
 * Spawns node with the open-file limit raised for N sockets (as far as the hard limit allows):
 * `sh -c 'ulimit -n …; exec node …'` keeps the pid, so the child's pid is node's.
 */
function spawnNode(args, options) {
  const want = N * 2 + 256;
  const script = `ulimit -n ${want} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"`;
  const child = spawn('/bin/sh', ['-c', script, process.execPath, ...args], options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves with the first stdout JSON line `pick` accepts; rejects when the child exits or after `ms`. */
function waitForLine(child, pick, ms, what) {
  return new Promise((resolve, reject) => {
    const seen = [];
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => fail(new Error(`${what}: nothing after ${ms / 1000} s`)), ms);
    const onExit = (code, signal) => fail(new Error(`${what} exited (${code ?? signal}) before it was ready`));
    const fail = (error) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.close();
      if (seen.length) error.message += `\n${seen.slice(-10).join('\n')}`;
      reject(error);
    };
    child.once('exit', onExit);
    lines.on('line', (line) => {
      seen.push(line);
      let parsed;
      try {
        parsed = JSON.parse(line);
      } catch {
        return;
      }
      const value = pick(parsed);
      if (value === undefined) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.removeAllListeners('line');
      lines.on('line', () => undefined); // keep draining
      resolve(value);
    });
  });
}

const profileArgs = (name) => (profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`]);

/** Starts one server; resolves with its process and the URL the load generator connects to. */
async function startServer(name) {
  if (name === 'hendrix') {
    const manifest = join(temp, 'hendrix.yaml');
    // maxBuffered: the peers buffer without bound; the hub gets room so that a long burst
    // measures fan-out rather than its slow-consumer policy (default 1mb, then close)
    writeFileSync(
      manifest,
      `version: 1\nlogging: { format: json, level: info }\nservices:\n  hub:\n    kind: pubsub\n    listen: 127.0.0.1:0\n    path: /hub\n    maxConnections: ${N + 100}\n    maxBuffered: 64mb\n`,
    );
    const child = spawnNode([...profileArgs('hendrix'), `${root}bin/hendrix.js`, 'up', '-f', manifest], { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await waitForLine(child, (line) => (line.msg === 'hub ready' ? line.address : undefined), 20_000, 'hendrix up');
    return { child, url };
  }
  const file = name === 'naive' ? 'naive-ws.mjs' : 'socketio.mjs';
  const child = spawnNode([...profileArgs(name), `${here}${file}`], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await waitForLine(child, (line) => (line.msg === 'ready' ? line.port : undefined), 20_000, file);
  return { child, url: name === 'naive' ? `ws://127.0.0.1:${port}/hub` : `http://127.0.0.1:${port}` };
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Runs the load generator against one server; resolves with its JSON figures. */
async function measure(name) {
  const { child: server, url } = await startServer(name);
  try {
    const args = [`${here}subscribers.mjs`, '--target', name, '--url', url, '--subscribers', String(N), '--messages', String(M), '--rate', values.rate, '--seconds', values.seconds, '--server-pid', String(server.pid), '--stall', values.stall];
    const loadgen = spawnNode([...profileArgs(`loadgen-${name}`), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    // connecting (60 s) + three phases that each may stall for --stall seconds + the paced time
    const budget = 60_000 + 3 * (Number(values.stall) + 30) * 1000 + Number(values.seconds) * 1000;
    const serverDied = new Promise((_, reject) => server.once('exit', (code, signal) => reject(new Error(`${name} server exited (${code ?? signal}) during the run`))));
    try {
      return await Promise.race([waitForLine(loadgen, (line) => (line.target === name ? line : undefined), budget, `load generator for ${name}`), serverDied]);
    } finally {
      // it exits by itself once it has printed (writing its profile, if any)
      if (loadgen.exitCode === null && loadgen.signalCode === null) {
        const timer = setTimeout(() => loadgen.kill('SIGKILL'), 5_000);
        await new Promise((r) => loadgen.once('exit', r));
        clearTimeout(timer);
      }
    }
  } finally {
    await stopServer(server);
  }
}

const results = Object.fromEntries(servers.map((s) => [s, []]));
// other busy processes on the machine skew every figure: say how loaded it was
const startLoad = loadavg()[0].toFixed(2);
if (loadavg()[0] > 0.5) console.error(`warning: load average ${startLoad}: other processes are busy, figures will be noisy`);
console.error(`bench/pubsub: ${N} subscribers, ${M}-message burst, ${values.rate} msg/s × ${values.seconds} s paced, ${rounds} round(s), servers ${servers.join(', ')}`);
for (let round = 0; round < rounds; round++) {
  const order = servers.map((_, i) => servers[(i + round) % servers.length]);
  for (const name of order) {
    console.error(`round ${round + 1}: ${name}`);
    const r = await measure(name);
    if (r.closed || r.errors || !r.burst.complete || !r.paced.complete) console.error(`  ${name}: closed ${r.closed}, errors ${r.errors}, burst complete ${r.burst.complete}, paced complete ${r.paced.complete}, strays ${r.strays}`);
    results[name].push(r);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const med = (name, pick) => median(results[name].map(pick));
const ms = (x) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 1) : '—');
const pct = (cpu, wall) => (Number.isFinite(cpu) ? `${Math.round((100 * cpu) / wall)}%` : '—');

const cols = ['server', 'burst deliv/s', 'burst p50 ms', 'burst p99 ms', 'paced p50 ms', 'paced p99 ms', 'burst CPU server/loadgen', 'server µs/deliv', 'delivered'];
const cpuPerDelivery = (r) => (1000 * r.burst.serverCpuMs) / r.burst.delivered;
const rows = servers.map((name) => {
  const wall = med(name, (r) => r.burst.wallMs);
  return [
    LABEL[name],
    Math.round(med(name, (r) => r.burst.deliveriesPerSec)).toLocaleString('en-US'),
    ms(med(name, (r) => r.burst.p50)),
    ms(med(name, (r) => r.burst.p99)),
    ms(med(name, (r) => r.paced.p50)),
    ms(med(name, (r) => r.paced.p99)),
    `${pct(med(name, (r) => r.burst.serverCpuMs), wall)} / ${pct(med(name, (r) => r.burst.loadgenCpuMs), wall)}`,
    med(name, cpuPerDelivery).toFixed(2),
    results[name].every((r) => r.burst.complete && r.paced.complete && r.closed === 0) ? 'all' : 'INCOMPLETE',
  ];
});
const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   ');

console.log(`bench/pubsub — ${N} subscribers in one load-generator process, 64-byte data, burst of ${M} messages, paced ${values.rate} msg/s for ${values.seconds} s; ${rounds} round(s) (medians), node ${process.version}, ${cpus().length} cores, load average at start ${startLoad}`);
console.log(line(cols));
for (const row of rows) console.log(line(row));
const has = (name) => results[name]?.length > 0;
const ratio = (a, b, pick) => med(a, pick) / med(b, pick);
const rate = (r) => r.burst.deliveriesPerSec;
if (has('hendrix')) {
  const parts = [];
  if (has('naive')) parts.push(`hendrix/naive ws ${ratio('hendrix', 'naive', rate).toFixed(2)}×`);
  if (has('socketio')) parts.push(`hendrix/socket.io ${ratio('hendrix', 'socketio', rate).toFixed(2)}×`);
  if (parts.length) console.log(`burst deliveries/s: ${parts.join(', ')}   (goal ≥ 20× both)`);
  if (has('naive')) console.log(`paced p99: hendrix/naive ws ${ratio('hendrix', 'naive', (r) => r.paced.p99).toFixed(2)}   (goal ≤ 1)`);
  const cpu = [];
  if (has('naive')) cpu.push(`naive ws/hendrix ${ratio('naive', 'hendrix', cpuPerDelivery).toFixed(1)}×`);
  if (has('socketio')) cpu.push(`socket.io/hendrix ${ratio('socketio', 'hendrix', cpuPerDelivery).toFixed(1)}×`);
  if (cpu.length) console.log(`server CPU per delivery in the burst: ${cpu.join(', ')}`);
}
console.log('burst CPU: CPU time of the server process / of the load generator, as a share of the burst\'s wall time (100% = one core busy');
console.log('  throughout: the side at 100% is the bottleneck); server µs/deliv: server CPU time in the burst ÷ deliveries');
if (rounds > 1) {
  for (const name of servers) console.log(`all rounds ${LABEL[name]}: burst deliv/s ${results[name].map((r) => Math.round(r.burst.deliveriesPerSec)).join(', ')}`);
}
if (profileDir !== undefined) console.log(`CPU profiles in ${profileDir}`);
if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify({ options: values, node: process.version, load: startLoad, results }, null, 1)}\n`);
