#!/usr/bin/env node
// bench/http/counting.mjs: the price of counting requests (the http kind's `metrics: true`) on its
// own. Two node:http servers in ONE process run the http kind's request pipeline with the bench's
// hello-world app, one counting and one not (`metrics: false`); wrk loads each in turn, and the
// process's CPU time per request (process.cpuUsage) is compared pass by pass. One process for both
// takes away what blurs two `hendrix up` processes (run.mjs): a process's JIT luck, which makes it
// 20-30% faster or slower than its twin for its whole life. A third server, an uncounted twin,
// measures the bench's own noise (A/A): a difference smaller than that one is not resolved.
// Usage: npm run build && node bench/http/counting.mjs [--pairs 12] [--duration 3] [--connections 50]
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { RequestPipeline } from '../../dist/services/http/request-pipeline.js';
import hello from './app.mjs';

const { values } = parseArgs({ options: { pairs: { type: 'string', default: '12' }, duration: { type: 'string', default: '3' }, connections: { type: 'string', default: '50' } } });

async function serve(metrics) {
  const pipeline = new RequestPipeline({ log: pino({ level: 'silent' }), accessLog: undefined, exposeErrors: false, metrics });
  pipeline.setApp({ type: 'node', listener: hello });
  const server = createServer({ keepAliveTimeout: 5_000 }, pipeline.handleRequest);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, pipeline, port: server.address().port };
}

/** One wrk pass on `port` (asynchronous: this process serves meanwhile); requests, req/s and CPU µs per request. */
function pass(port, seconds) {
  const before = process.cpuUsage();
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t1', `-c${values.connections}`, `-d${seconds}s`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' }, (error, out) => {
      if (error) return reject(error.code === 'ENOENT' ? new Error('wrk is not installed: apt-get install -y wrk') : error);
      const cpu = process.cpuUsage(before);
      const requests = Number(/(\d+) requests in/.exec(out)[1]);
      resolve({ requests, rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]), cpu: (cpu.user + cpu.system) / requests });
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const servers = { counted: await serve(true), uncounted: await serve(false), twin: await serve(false) };
for (const { port } of Object.values(servers)) await pass(port, 2); // warm-up, discarded

const pairs = [];
// each pass set loads the three servers in turn, in a rotating order
for (let i = 0; i < Number(values.pairs); i++) {
  const pair = {};
  const order = [['counted', 'uncounted', 'twin'], ['twin', 'uncounted', 'counted'], ['uncounted', 'twin', 'counted']][i % 3];
  for (const name of order) pair[name] = await pass(servers[name].port, values.duration);
  pairs.push(pair);
}
const counted = servers.counted.pipeline.counts;
for (const { server } of Object.values(servers)) server.close();

const cpu = pairs.map((p) => p.uncounted.cpu / p.counted.cpu);
const rps = pairs.map((p) => p.counted.rps / p.uncounted.rps);
const twin = pairs.map((p) => p.uncounted.cpu / p.twin.cpu);
const m = (f) => median(pairs.map(f));
console.log(`bench/http counting — the request pipeline counted and not, one process, ${values.pairs} pairs of wrk -t1 -c${values.connections} -d${values.duration}s passes, node ${process.version}`);
console.log(`                      metrics: true  metrics: false`);
console.log(`CPU µs/req (median)   ${m((p) => p.counted.cpu).toFixed(2).padStart(10)}    ${m((p) => p.uncounted.cpu).toFixed(2).padStart(14)}`);
console.log(`req/s (median)        ${m((p) => p.counted.rps).toFixed(0).padStart(10)}    ${m((p) => p.uncounted.rps).toFixed(0).padStart(14)}`);
console.log(`per pair, CPU/req uncounted / counted: median ${median(cpu).toFixed(3)} (${cpu.map((x) => x.toFixed(3)).join(', ')})`);
console.log(`per pair, req/s counted / uncounted: median ${median(rps).toFixed(3)} (${rps.map((x) => x.toFixed(3)).join(', ')})`);
console.log(`A/A, CPU/req uncounted twin / uncounted: median ${median(twin).toFixed(3)} (${twin.map((x) => x.toFixed(3)).join(', ')}) — the bench's own noise`);
console.log(`goal: ≥ 0.970 (counting costs at most 3% of the throughput); counted responses: ${counted.classes[0]} 2xx, histogram sum ${counted.sum.toFixed(1)} s`);
process.exit(0);
