#!/usr/bin/env node
// bench/crosstown: a handler that must do 20 ms of CPU work per request, four ways in one run —
// inline (blocking), crosstown on the loop, crosstown.thread, and BullMQ on a local
// redis-server with a separate worker process — plus a handler that does no work. Each gets
// the same paced load; we print response p50/p99, requests/s and the time until all work is
// done. Usage: npm run build && node bench/crosstown/run.mjs [--rate 40] [--seconds 10]
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({ options: { rate: { type: 'string', default: '40' }, seconds: { type: 'string', default: '10' } } });
const rate = Number(values.rate);
const total = rate * Number(values.seconds);

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

async function waitUp(port, child) {
  for (;;) {
    if (child.exitCode !== null) throw new Error('server exited');
    try {
      return await get(port, '/done');
    } catch {
      await sleep(20);
    }
  }
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function measure(mode, redisPort) {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), MODE: mode, REDIS_PORT: String(redisPort) };
  const server = spawn(process.execPath, [`${root}bin/hendrix.js`, 'up', '-f', `${here}hendrix.yaml`], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const worker = mode === 'bullmq' ? spawn(process.execPath, [`${here}bullmq-worker.mjs`], { env, stdio: ['ignore', 'ignore', 'inherit'] }) : undefined;
  await waitUp(port, server);
  const baseline = Number(await get(port, '/done'));
  const latencies = [];
  const started = performance.now();
  const pending = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const t = performance.now();
    pending.push(get(port, '/').then(() => latencies.push(performance.now() - t)));
  }
  await Promise.all(pending);
  const answered = performance.now();
  while (Number(await get(port, '/done')) - baseline < total) await sleep(5);
  const allDone = performance.now();
  await stop(server);
  if (worker) await stop(worker);
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return { mode, p50: pct(50), p99: pct(99), rps: total / ((answered - started) / 1000), doneMs: allDone - started };
}

const redisPort = await freePort();
const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
redis.on('error', (e) => {
  console.error(`redis-server could not start (${e.message}): apt-get install -y redis-server`);
  process.exit(1);
});
await sleep(300);
try {
  const rows = [];
  for (const mode of ['none', 'inline', 'loop', 'thread', 'bullmq']) rows.push(await measure(mode, redisPort));
  const none = rows[0];
  console.log(`bench/crosstown — ${total} requests paced at ${rate}/s, 20 ms CPU work each, node ${process.version}`);
  console.log('mode      p50 ms   p99 ms   req/s   all work done ms   p99 vs no work');
  for (const r of rows) {
    console.log(
      `${r.mode.padEnd(8)} ${r.p50.toFixed(2).padStart(7)} ${r.p99.toFixed(2).padStart(8)} ${r.rps.toFixed(1).padStart(7)} ${r.doneMs.toFixed(0).padStart(18)}   ${(r.p99 / none.p99).toFixed(2)}×`,
    );
  }
} finally {
  redis.kill('SIGTERM');
}
