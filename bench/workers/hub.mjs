#!/usr/bin/env node
// bench/workers/hub.mjs: the pub/sub hub's fan-out with its subscribers spread over 2 workers
// (`hendrix up --workers 2`: one hub across the workers, ids from the primary's sequencer)
// against the single-process hub (`--workers 1`), same manifest (hub.yaml: a hub attached to
// http, backplane: memory), same load, alternated rounds (#15). The WebSocket clients run in
// processes of their own (hub-clients.mjs): --clients processes of subscribers, one of
// publishers. Per pass the publishers publish for --duration seconds (a closed loop of --window
// unacked publishes each, or --rate msg/s in all); the pass ends when every subscriber has every
// message. Figures: deliveries/s at the clients, server CPU (primary + workers, /proc) per
// delivery, the clients' CPU, and which worker took each connection (read from /proc).
const USAGE = `Usage: npm run build && node bench/workers/hub.mjs [options]
  --workers N       the many-worker contender (default 2); the other is always --workers 1
  --subscribers N   WebSocket subscribers of the one topic, in all (default 200)
  --clients N       processes the subscribers are spread over (default 2)
  --publishers N    publisher connections, in one more process (default 2)
  --window N        unacked publishes per publisher in the closed loop (default 16)
  --rate R          publish R messages/s in all instead of the closed loop (default 0: closed loop)
  --bytes N         size of each message's data (default 64)
  --duration S      seconds of publishing in each measured pass (default 5)
  --warmup S        seconds of the discarded pass before it (default 2)
  --rounds N        alternated rounds; medians are over them (default 3)
  --stall S         a pass with no delivery for S seconds ends incomplete (default 15)
  --help            this text
Needs pgrep (procps) and Linux /proc. Prints figures; never fails on them.`;
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { median, settle, cpuSeconds, machineBusySeconds, requireTools, requireBuild, DISTURBED } from '../tls/machine.mjs';
import { run, spawnTracked, freePort, sleep, childrenOf, stopGroup, controlSocket } from './processes.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const defaults = { workers: 2, subscribers: 200, clients: 2, publishers: 2, window: 16, rate: 0, bytes: 64, duration: 5, warmup: 2, rounds: 3, stall: 15 };
const { values: raw } = parseArgs({ options: { ...Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, { type: 'string', default: String(v) }])), help: { type: 'boolean', default: false } } });
if (raw.help) {
  console.log(USAGE);
  process.exit(0);
}
const o = Object.fromEntries(Object.keys(defaults).map((k) => [k, Number(raw[k])]));
for (const [k, v] of Object.entries(o)) if (!Number.isFinite(v) || v < 0 || (v === 0 && !['rate'].includes(k))) throw new Error(`--${k} ${raw[k]}: expected a positive number`);
requireTools([['pgrep', ['--version'], 'procps']]);
requireBuild(root);
const loadBefore = loadavg();
const CONTENDERS = [
  { key: 'many', label: `hub, workers: ${o.workers}`, workers: o.workers },
  { key: 'one', label: 'hub, workers: 1', workers: 1 },
];

/** Reads a child's stdout as JSON lines; `next(pick, ms)` resolves with the first line `pick` maps to a value. */
function jsonLines(child, what, onLine = () => {}) {
  let waiter;
  const fail = (error) => {
    if (run.interrupted) return; // processes.mjs ends the run: no figures, no error
    const w = waiter;
    waiter = undefined;
    if (w) clearTimeout(w.timer), w.reject(error);
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    let value;
    try {
      value = JSON.parse(line);
    } catch {
      return;
    }
    onLine(value);
    const picked = waiter?.pick(value);
    if (picked === undefined) return;
    const w = waiter;
    waiter = undefined;
    clearTimeout(w.timer);
    w.resolve(picked);
  });
  child.once('exit', (code, signal) => fail(new Error(`${what} exited (${code ?? signal})`)));
  return {
    next: (pick, ms) =>
      new Promise((resolve, reject) => {
        waiter = { pick, resolve, reject, timer: setTimeout(() => fail(new Error(`${what}: no answer in ${ms / 1000} s`)), ms) };
      }),
  };
}

/** Starts `hendrix up --workers N` on a free port; resolves once its ready line names the hub. */
async function startServer(contender) {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), HUB_MAX_CONNECTIONS: String(o.subscribers + o.publishers + 100) };
  const argv = [`${root}bin/hendrix.js`, 'up', '-f', `${here}hub.yaml`, '--workers', String(contender.workers), '--control', controlSocket()];
  const child = spawnTracked(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'inherit'], group: true });
  // the hub's warnings (a slow consumer closed, a limit biting) belong next to the figures
  const lines = jsonLines(child, contender.label, (l) => l.level >= 40 && console.error(`  ${contender.label}: ${l.msg}`));
  const ready = await lines.next((l) => (typeof l.msg === 'string' && l.msg.startsWith('ready') && l.services?.hub ? l : undefined), 30_000);
  const names = new Map([[child.pid, contender.workers > 1 ? 'primary' : 'the process']]);
  for (const w of ready.workers ?? []) names.set(w.pid, `worker ${w.id}`);
  if (contender.workers > 1 && childrenOf(child.pid).length < contender.workers) throw new Error(`${contender.label}: fewer than ${contender.workers} workers`);
  return { child, port, url: ready.services.hub, names, pids: [...names.keys()] };
}

/** Starts one process of hub-clients.mjs and waits until its connections are open. */
async function startClients(url, role, count) {
  const child = spawnTracked(process.execPath, [`${here}hub-clients.mjs`, '--url', url, '--role', role, '--count', String(count), '--bytes', String(o.bytes)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = jsonLines(child, `${role} clients ${child.pid}`);
  await lines.next((l) => l.ready, 60_000);
  return { child, count, ask: (command, pick, ms) => (child.stdin.write(`${JSON.stringify(command)}\n`), lines.next(pick, ms)) };
}

/** Ends a client process by closing its stdin; SIGKILL after 5 s. */
async function stopClients(c) {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  const exited = new Promise((r) => c.child.once('exit', r));
  c.child.stdin.end();
  const timer = setTimeout(() => c.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * Which server process holds each client process's connections: its socket inodes in
 * /proc/<pid>/fd, their local ports in /proc/net/tcp, the server's end of each (local port =
 * the server's, remote port = the client's) and the server process holding that inode.
 */
function placement(server, clientProcesses) {
  const rows = readFileSync('/proc/net/tcp', 'utf8').trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  const portOf = (address) => parseInt(address.split(':')[1], 16);
  const established = rows.filter((f) => f[3] === '01');
  const serverEnd = new Map(established.filter((f) => portOf(f[1]) === server.port).map((f) => [portOf(f[2]), f[9]])); // client port → inode
  const clientPort = new Map(established.filter((f) => portOf(f[2]) === server.port).map((f) => [f[9], portOf(f[1])])); // inode → client port
  const inodes = (pid) =>
    readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return [/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]].filter(Boolean);
      } catch {
        return []; // closed meanwhile
      }
    });
  const owner = new Map(server.pids.flatMap((pid) => inodes(pid).map((inode) => [inode, pid])));
  return clientProcesses.map((c) => {
    const counts = new Map();
    for (const inode of inodes(c.child.pid)) {
      if (!clientPort.has(inode)) continue;
      const name = server.names.get(owner.get(serverEnd.get(clientPort.get(inode)))) ?? 'unknown';
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    return counts;
  });
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const received = async (subs) => {
  const answers = await Promise.all(subs.map((s) => s.ask({ cmd: 'count' }, (l) => (l.received === undefined ? undefined : l), 10_000)));
  return { received: sum(answers.map((a) => a.received)), lastAt: Math.max(...answers.map((a) => a.lastAt)), closed: sum(answers.map((a) => a.closed)) };
};

/** One pass: publish for `seconds`, wait for every delivery (or a stall), and the CPU it took. */
async function pass(server, subs, pub, seconds) {
  const clients = [...subs, pub];
  const before = await received(subs);
  const cpu0 = { server: server.pids.map(cpuSeconds), clients: clients.map((c) => cpuSeconds(c.child.pid)), machine: machineBusySeconds() };
  const sent = await pub.ask({ cmd: 'go', seconds, rate: o.rate, window: o.window }, (l) => (l.published === undefined ? undefined : l), (seconds + 120) * 1000);
  const expected = sent.published * o.subscribers;
  let now = before;
  let progressAt = performance.now();
  for (let last = -1; ; await sleep(50)) {
    now = await received(subs);
    const got = now.received - before.received;
    if (got >= expected) break;
    if (got !== last) (last = got), (progressAt = performance.now());
    else if (performance.now() - progressAt > 1000 * o.stall) break;
  }
  const serverCpu = server.pids.map((pid, i) => cpuSeconds(pid) - cpu0.server[i]);
  const clientCpus = clients.map((c, i) => cpuSeconds(c.child.pid) - cpu0.clients[i]);
  const clientCpu = sum(clientCpus);
  const delivered = now.received - before.received;
  const wall = (now.lastAt - sent.startAt) / 1000;
  return {
    published: sent.published,
    delivered,
    complete: delivered === expected && sent.errors === 0 && now.closed === 0,
    wall,
    perSec: delivered / wall,
    server: sum(serverCpu),
    primary: server.pids.length > 1 ? serverCpu[0] : 0,
    busiestWorker: Math.max(...(server.pids.length > 1 ? serverCpu.slice(1) : serverCpu)),
    clients: clientCpu,
    busiestClient: Math.max(...clientCpus),
    // /proc's clock ticks make this a few % negative on an idle machine: read as 0
    others: Math.max(0, machineBusySeconds() - cpu0.machine - sum(serverCpu) - clientCpu),
  };
}

const results = Object.fromEntries(CONTENDERS.map((c) => [c.key, []]));
const mode = o.rate > 0 ? `${o.rate} msg/s in all` : `closed loop, ${o.window} unacked each`;
console.error(`bench/workers hub: ${o.subscribers} subscribers in ${o.clients} processes, ${o.publishers} publishers (${mode}), ${o.rounds} round(s)`);
for (let round = 0; round < o.rounds; round++) {
  for (const contender of CONTENDERS.map((_, i) => CONTENDERS[(i + round) % CONTENDERS.length])) {
    const server = await startServer(contender);
    const clients = [];
    try {
      for (let k = 0; k < o.clients; k++) clients.push(await startClients(server.url, 'sub', Math.floor(o.subscribers / o.clients) + (k < o.subscribers % o.clients ? 1 : 0)));
      const subs = [...clients];
      const pub = await startClients(server.url, 'pub', o.publishers);
      clients.push(pub);
      const [subsPlaced, pubsPlaced] = ((p) => [p.slice(0, -1), p.at(-1)])(placement(server, clients));
      const spread = new Map();
      for (const counts of subsPlaced) for (const [name, n] of counts) spread.set(name, (spread.get(name) ?? 0) + n);
      const where = (m) => [...m].sort().map(([name, n]) => `${name} ${n}`).join(', ');
      await pass(server, subs, pub, o.warmup); // JIT, buffers, the sequencer's first topic: discarded
      await settle(5);
      const r = await pass(server, subs, pub, o.duration);
      r.subscribers = where(spread);
      r.publishers = where(pubsPlaced);
      r.spread = spread;
      results[contender.key].push(r);
      console.error(`round ${round + 1} ${contender.label}: ${Math.round(r.perSec)} deliveries/s, ${((1e6 * r.server) / r.delivered).toFixed(2)} µs server CPU each; subscribers on ${r.subscribers}; publishers on ${r.publishers}${r.complete ? '' : ' — INCOMPLETE'}`);
    } finally {
      for (const c of clients) await stopClients(c);
      await stopGroup(contender.label, server.child);
    }
  }
}

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const loads = (l) => l.map((x) => x.toFixed(2)).join(' ');
const med = (key, pick) => median(results[key].map(pick));
const us = (r) => (1e6 * r.server) / r.delivered;
const pct = (cpu) => (r) => (100 * cpu(r)) / r.wall;
console.log(`bench/workers hub — ${o.subscribers} subscribers (${o.clients} client processes), ${o.publishers} publishers (${mode}), ${o.bytes}-byte data, ${o.duration} s passes after a ${o.warmup} s warm-up, ${o.rounds} alternated round(s), medians; node ${process.version}, ${availableParallelism()} CPUs, load average ${loads(loadBefore)} before, ${loads(loadavg())} after`);
const head = ['contender', 'deliveries/s', 'msg/s', 'server µs/deliv', 'server CPU % (primary, busiest worker)', 'clients CPU % (busiest process, µs/deliv)', 'others CPU %', 'all rounds deliveries/s'];
const rows = CONTENDERS.map(({ key, label }) => [
  label,
  fmt(med(key, (r) => r.perSec)),
  fmt(med(key, (r) => r.published / r.wall)),
  fmt(med(key, us), 2),
  `${fmt(med(key, pct((r) => r.server)))} (${key === 'one' ? '—' : fmt(med(key, pct((r) => r.primary)))}, ${fmt(med(key, pct((r) => r.busiestWorker)))})`,
  `${fmt(med(key, pct((r) => r.clients)))} (${fmt(med(key, pct((r) => r.busiestClient)))}, ${fmt(med(key, (r) => (1e6 * r.clients) / r.delivered), 2)})`,
  fmt(med(key, pct((r) => r.others))),
  results[key].map((r) => `${fmt(r.perSec)}${r.complete ? '' : ' INCOMPLETE'}`).join(', '),
]);
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
for (const row of [head, ...rows]) console.log(row.map((c, i) => (i === 0 || i === row.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
const cpuRatio = med('many', us) / med('one', us);
const rateRatio = med('many', (r) => r.perSec) / med('one', (r) => r.perSec);
console.log(`\nratios, workers: ${o.workers} / workers: 1`);
console.log(`server CPU per delivery   ${fmt(cpuRatio, 3).padStart(6)}   goal ≤ 1.2 — ${cpuRatio <= 1.2 ? 'met' : 'NOT met'}`);
console.log(`deliveries/s              ${fmt(rateRatio, 3).padStart(6)}   no goal: with the clients on the same CPUs, read it with the CPU columns`);
console.log(`\nsubscribers per process (every round): ${CONTENDERS.map(({ key, label }) => `${label}: ${results[key].map((r) => r.subscribers).join(' | ')}`).join('; ')}`);
console.log(`publishers per process (every round): ${CONTENDERS.map(({ key, label }) => `${label}: ${results[key].map((r) => r.publishers).join(' | ')}`).join('; ')}`);
const lopsided = results.many.filter((r) => [...r.spread.keys()].filter((name) => name.startsWith('worker')).length < o.workers);
if (lopsided.length) console.log(`warning: in ${lopsided.length} round(s) the subscribers did not land on every worker`);
const disturbed = Object.values(results).flat().filter((r) => pct((x) => x.others)(r) > DISTURBED).length;
if (disturbed) console.log(`warning: ${disturbed} measured pass(es) shared the machine with other processes busy over ${DISTURBED} % of a CPU (others CPU %)`);
if (Object.values(results).flat().some((r) => !r.complete)) console.log('warning: some passes were INCOMPLETE (a message not delivered to every subscriber, an error, or a closed connection)');
console.log('CPU %: CPU time over the pass\'s wall time (100 % = one CPU, 200 % = both); server: primary + workers (for workers: 1, the one process);');
console.log('µs/deliv: CPU time ÷ deliveries; others: the rest of the machine (this script, other engineers\' tests)');
