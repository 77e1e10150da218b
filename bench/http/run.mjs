#!/usr/bin/env node
// bench/http: hello world served by `hendrix up` against bare node:http, same load generator
// (wrk), alternated rounds; plus idle RSS and spawn-to-first-response against Fastify 5. Also
// `hendrix up` with `metrics: false` in the same rounds, next to the default one: the price of
// counting every request for GET /metrics (the goal: at most 3% of the throughput).
// Usage: npm run build && node bench/http/run.mjs [--rounds 5] [--duration 5] [--connections 50]
//        node bench/http/run.mjs --startup-only [--rounds 15]   (spawn-to-first-response only:
//        hendrix — whose plan checks and imports the app before it listens — node:http, Fastify 5)
//        node bench/http/run.mjs --counting-only [--rounds 10] [--pairs 3] [--duration 3]   (the
//        price of counting only: per round, a fresh hendrix with metrics: true and one with false,
//        both up, wrk on each in turn --pairs times; the ratio per round is the median of its pairs)
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '50' }, 'startup-only': { type: 'boolean', default: false }, 'counting-only': { type: 'boolean', default: false }, pairs: { type: 'string', default: '3' } },
});
const rounds = Number(values.rounds);

try {
  execFileSync('wrk', ['--version'], { stdio: 'ignore' });
} catch (error) {
  if (error.code === 'ENOENT') {
    console.error('wrk is not installed: apt-get install -y wrk');
    process.exit(1);
  }
}

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const TARGETS = {
  hendrix: (port) => spawn(process.execPath, [`${root}/bin/hendrix.js`, 'up', '-f', `${here}/hendrix.yaml`], { env: { ...process.env, PORT: String(port), METRICS: 'true' }, stdio: ['ignore', 'ignore', 'inherit'] }),
  // a control socket of its own: --counting-only runs it beside the other one, of the same manifest
  uncounted: (port) => spawn(process.execPath, [`${root}/bin/hendrix.js`, 'up', '-f', `${here}/hendrix.yaml`, '--control', join(tmpdir(), `hendrix-bench-${process.pid}.sock`)], { env: { ...process.env, PORT: String(port), METRICS: 'false' }, stdio: ['ignore', 'ignore', 'inherit'] }),
  node: (port) => spawn(process.execPath, [`${here}/bare.mjs`], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] }),
  fastify: (port) => spawn(process.execPath, [`${here}/fastify.mjs`], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] }),
};

async function firstResponse(port, child, started) {
  for (;;) {
    if (child.exitCode !== null) throw new Error('server exited before answering');
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      await res.text();
      if (res.ok) return performance.now() - started;
    } catch {
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

async function launch(name) {
  const port = await freePort();
  const started = performance.now();
  const child = TARGETS[name](port);
  const ms = await firstResponse(port, child, started);
  return { port, child, ms };
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

async function stop(child) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** CPU time (user + system) the process has used, in µs (clock ticks of 10 ms). */
function cpuUs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * One wrk pass: req/s and p99, and the server's CPU per request — which a machine busy with
 * other work disturbs far less than req/s (the server gets less CPU, not dearer requests).
 */
function wrk(port, pid) {
  const cpuBefore = cpuUs(pid);
  const out = execFileSync('wrk', ['-t1', `-c${values.connections}`, `-d${values.duration}s`, '--latency', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  const cpu = cpuUs(pid) - cpuBefore;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const requests = Number(/(\d+) requests in/.exec(out)[1]);
  const p99raw = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = Number(p99raw[1]) * { us: 0.001, ms: 1, s: 1000 }[p99raw[2]];
  return { rps, p99, cpuPerRequest: cpu / requests };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const contender = () => ({ rps: [], p99: [], cpu: [], rss: [], first: [] });
const results = { hendrix: contender(), uncounted: contender(), node: contender(), fastify: { first: [] } };

if (values['startup-only']) {
  const first = { hendrix: [], node: [], fastify: [] };
  for (let round = 0; round < rounds; round++) {
    const order = [['hendrix', 'fastify', 'node'], ['fastify', 'node', 'hendrix'], ['node', 'hendrix', 'fastify']][round % 3];
    for (const name of order) {
      const { child, ms } = await launch(name);
      first[name].push(ms);
      await stop(child);
    }
  }
  const m = (xs) => median(xs).toFixed(0);
  console.log(`bench/http startup — ${rounds} rotated rounds, spawn to first 200, node ${process.version}`);
  console.log(`median ms: hendrix ${m(first.hendrix)}, fastify 5 ${m(first.fastify)}, bare node:http ${m(first.node)}`);
  console.log(`hendrix / fastify: ${(median(first.hendrix) / median(first.fastify)).toFixed(3)} (goal ≤ 1)`);
  console.log(`all: hendrix ${first.hendrix.map((x) => x.toFixed(0)).join(', ')}; fastify ${first.fastify.map((x) => x.toFixed(0)).join(', ')}`);
  process.exit(0);
}

if (values['counting-only']) {
  // a process's JIT luck can make it 20-30% faster or slower than its twin for its whole life:
  // fresh processes every round, several alternating pairs of passes in each
  const pairs = [];
  const rps = [];
  const cpu = [];
  for (let round = 0; round < rounds; round++) {
    const servers = {};
    const mine = [];
    try {
      for (const name of round % 2 ? ['uncounted', 'hendrix'] : ['hendrix', 'uncounted']) servers[name] = await launch(name);
      for (const { port, child } of Object.values(servers)) wrk(port, child.pid); // warm-up passes, discarded
      for (let pair = 0; pair < Number(values.pairs); pair++) {
        const pass = {};
        for (const name of (round + pair) % 2 ? ['uncounted', 'hendrix'] : ['hendrix', 'uncounted']) pass[name] = wrk(servers[name].port, servers[name].child.pid);
        mine.push(pass);
      }
    } finally {
      for (const { child } of Object.values(servers)) await stop(child);
    }
    pairs.push(...mine);
    rps.push(median(mine.map((p) => p.hendrix.rps / p.uncounted.rps)));
    cpu.push(median(mine.map((p) => p.uncounted.cpuPerRequest / p.hendrix.cpuPerRequest)));
  }
  const m = (f) => median(pairs.map(f));
  console.log(`bench/http counting — ${rounds} rounds of fresh servers × ${values.pairs} pairs of wrk -t1 -c${values.connections} -d${values.duration}s passes, node ${process.version}`);
  console.log(`                      metrics: true  metrics: false   ratio`);
  console.log(`req/s (median)        ${m((p) => p.hendrix.rps).toFixed(0).padStart(10)}    ${m((p) => p.uncounted.rps).toFixed(0).padStart(14)}`);
  console.log(`CPU µs/req (median)   ${m((p) => p.hendrix.cpuPerRequest).toFixed(2).padStart(10)}    ${m((p) => p.uncounted.cpuPerRequest).toFixed(2).padStart(14)}`);
  console.log(`per round, req/s counted / uncounted: median ${median(rps).toFixed(3)} (${rps.map((x) => x.toFixed(3)).join(', ')})`);
  console.log(`per round, CPU/req uncounted / counted: median ${median(cpu).toFixed(3)} (${cpu.map((x) => x.toFixed(3)).join(', ')})`);
  console.log(`goal: ≥ 0.970 (counting costs at most 3% of the throughput)`);
  process.exit(0);
}

for (let round = 0; round < rounds; round++) {
  // the two hendrix runs next to each other, in either order: their ratio is the price of counting
  for (const name of [['hendrix', 'uncounted', 'node'], ['node', 'uncounted', 'hendrix']][round % 2]) {
    const { port, child, ms } = await launch(name);
    results[name].first.push(ms);
    await new Promise((r) => setTimeout(r, 500));
    results[name].rss.push(rssMb(child.pid));
    wrk(port, child.pid); // warm-up pass, discarded
    const { rps, p99, cpuPerRequest } = wrk(port, child.pid);
    results[name].rps.push(rps);
    results[name].p99.push(p99);
    results[name].cpu.push(cpuPerRequest);
    await stop(child);
  }
  const f = await launch('fastify');
  results.fastify.first.push(f.ms);
  await stop(f.child);
}

const h = results.hendrix;
const u = results.uncounted;
const n = results.node;
const fmt = (x, d = 0) => x.toFixed(d);
console.log(`bench/http — ${rounds} alternated rounds, wrk -t1 -c${values.connections} -d${values.duration}s, node ${process.version}`);
console.log(`                      hendrix up    bare node:http   ratio`);
console.log(`req/s (median)        ${fmt(median(h.rps)).padStart(10)}    ${fmt(median(n.rps)).padStart(14)}   ${(median(h.rps) / median(n.rps)).toFixed(3)}`);
console.log(`p99 ms (median)       ${fmt(median(h.p99), 2).padStart(10)}    ${fmt(median(n.p99), 2).padStart(14)}   ${(median(h.p99) / median(n.p99)).toFixed(3)}`);
console.log(`CPU µs/req (median)   ${fmt(median(h.cpu), 2).padStart(10)}    ${fmt(median(n.cpu), 2).padStart(14)}   ${(median(h.cpu) / median(n.cpu)).toFixed(3)}`);
console.log(`idle RSS MB (median)  ${fmt(median(h.rss), 1).padStart(10)}    ${fmt(median(n.rss), 1).padStart(14)}   +${fmt(median(h.rss) - median(n.rss), 1)} MB`);
console.log(`first response ms     ${fmt(median(h.first)).padStart(10)}    ${fmt(median(n.first)).padStart(14)}   fastify 5: ${fmt(median(results.fastify.first))} ms`);
console.log(`all rounds: hendrix req/s ${h.rps.map((x) => fmt(x)).join(', ')}; node req/s ${n.rps.map((x) => fmt(x)).join(', ')}`);
// per round, counted against uncounted: the two ran back to back, so a slow spell of the machine
// hits both; CPU per request is the steadier measure of what counting costs a saturated server
const perRound = h.rps.map((x, i) => x / u.rps[i]);
const cpuPerRound = h.cpu.map((x, i) => u.cpu[i] / x);
console.log('');
console.log(`the price of counting  metrics: true  metrics: false   ratio`);
console.log(`req/s (median)        ${fmt(median(h.rps)).padStart(10)}    ${fmt(median(u.rps)).padStart(14)}   ${(median(h.rps) / median(u.rps)).toFixed(3)}`);
console.log(`p99 ms (median)       ${fmt(median(h.p99), 2).padStart(10)}    ${fmt(median(u.p99), 2).padStart(14)}   ${(median(h.p99) / median(u.p99)).toFixed(3)}`);
console.log(`CPU µs/req (median)   ${fmt(median(h.cpu), 2).padStart(10)}    ${fmt(median(u.cpu), 2).padStart(14)}   ${(median(h.cpu) / median(u.cpu)).toFixed(3)}`);
console.log(`per round, req/s counted / uncounted: ${perRound.map((x) => x.toFixed(3)).join(', ')}; median ${median(perRound).toFixed(3)}`);
console.log(`per round, CPU/req uncounted / counted (the throughput a CPU-bound server keeps): ${cpuPerRound.map((x) => x.toFixed(3)).join(', ')}; median ${median(cpuPerRound).toFixed(3)}`);
console.log(`goal: ≥ 0.970 (counting costs at most 3% of the throughput)`);
console.log(`all rounds: metrics: false req/s ${u.rps.map((x) => fmt(x)).join(', ')}`);
