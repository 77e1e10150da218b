#!/usr/bin/env node
// bench/http: hello world served by `hendrix up` against bare node:http, same load generator
// (wrk), alternated rounds; plus idle RSS and spawn-to-first-response against Fastify 5.
// Usage: npm run build && node bench/http/run.mjs [--rounds 5] [--duration 5] [--connections 50]
//        node bench/http/run.mjs --startup-only [--rounds 15]   (spawn-to-first-response only:
//        hendrix — whose plan checks and imports the app before it listens — node:http, Fastify 5)
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '50' }, 'startup-only': { type: 'boolean', default: false } },
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
  hendrix: (port) => spawn(process.execPath, [`${root}/bin/hendrix.js`, 'up', '-f', `${here}/hendrix.yaml`], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] }),
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

function wrk(port) {
  const out = execFileSync('wrk', ['-t1', `-c${values.connections}`, `-d${values.duration}s`, '--latency', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const p99raw = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = Number(p99raw[1]) * { us: 0.001, ms: 1, s: 1000 }[p99raw[2]];
  return { rps, p99 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { hendrix: { rps: [], p99: [], rss: [], first: [] }, node: { rps: [], p99: [], rss: [], first: [] }, fastify: { first: [] } };

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

for (let round = 0; round < rounds; round++) {
  for (const name of round % 2 ? ['node', 'hendrix'] : ['hendrix', 'node']) {
    const { port, child, ms } = await launch(name);
    results[name].first.push(ms);
    await new Promise((r) => setTimeout(r, 500));
    results[name].rss.push(rssMb(child.pid));
    wrk(port); // warm-up pass, discarded
    const { rps, p99 } = wrk(port);
    results[name].rps.push(rps);
    results[name].p99.push(p99);
    await stop(child);
  }
  const f = await launch('fastify');
  results.fastify.first.push(f.ms);
  await stop(f.child);
}

const h = results.hendrix;
const n = results.node;
const fmt = (x, d = 0) => x.toFixed(d);
console.log(`bench/http — ${rounds} alternated rounds, wrk -t1 -c${values.connections} -d${values.duration}s, node ${process.version}`);
console.log(`                      hendrix up    bare node:http   ratio`);
console.log(`req/s (median)        ${fmt(median(h.rps)).padStart(10)}    ${fmt(median(n.rps)).padStart(14)}   ${(median(h.rps) / median(n.rps)).toFixed(3)}`);
console.log(`p99 ms (median)       ${fmt(median(h.p99), 2).padStart(10)}    ${fmt(median(n.p99), 2).padStart(14)}   ${(median(h.p99) / median(n.p99)).toFixed(3)}`);
console.log(`idle RSS MB (median)  ${fmt(median(h.rss), 1).padStart(10)}    ${fmt(median(n.rss), 1).padStart(14)}   +${fmt(median(h.rss) - median(n.rss), 1)} MB`);
console.log(`first response ms     ${fmt(median(h.first)).padStart(10)}    ${fmt(median(n.first)).padStart(14)}   fastify 5: ${fmt(median(results.fastify.first))} ms`);
console.log(`all rounds: hendrix req/s ${h.rps.map((x) => fmt(x)).join(', ')}; node req/s ${n.rps.map((x) => fmt(x)).join(', ')}`);
