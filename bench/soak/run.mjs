#!/usr/bin/env node
// bench/soak: the built CLI runs bench/soak/hendrix.yaml (http app + static + crosstown, a hub
// with history) under mixed load (load.mjs) for minutes, while its RSS, threads and open file
// descriptors (sockets, files, pipes) are sampled from /proc/<pid>. Prints one row per sample
// as it goes, then the curves and start/end/max figures, then the same after the load stopped
// (what a leak would keep) and how the process stopped on SIGTERM.
// Usage: npm run build && node bench/soak/run.mjs [--minutes 10] [--interval 5] [--json FILE]
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLoad } from './load.mjs';
import { plot } from './plot.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    interval: { type: 'string', default: '5' },
    json: { type: 'string' },
  },
});
const minutes = Number(values.minutes);
const intervalMs = Number(values.interval) * 1000;
if (!(minutes > 0) || !(intervalMs > 0)) {
  console.error('usage: node bench/soak/run.mjs [--minutes 10] [--interval 5] [--json FILE]');
  process.exit(64);
}
if (!existsSync(`${root}dist/bundle/cli.js`)) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

// ---- the server -----------------------------------------------------------------------------
const child = spawn(process.execPath, [`${root}bin/hendrix.js`, 'up', '-f', `${root}bench/soak/hendrix.yaml`], {
  env: { ...process.env, PORT: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
process.on('exit', () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
const logged = { warn: new Map(), error: new Map() };
const ready = new Promise((resolve, reject) => {
  child.once('exit', (code) => reject(new Error(`hendrix exited (${code}) before ready`)));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    const entry = JSON.parse(line);
    if (typeof entry.msg === 'string' && entry.msg.startsWith('ready:')) resolve(entry.services.web);
    const level = entry.level >= 50 ? 'error' : entry.level >= 40 ? 'warn' : undefined;
    if (level) logged[level].set(entry.msg, (logged[level].get(entry.msg) ?? 0) + 1);
  });
});
const base = (await ready).replace('0.0.0.0', '127.0.0.1');

/** RSS and peak RSS (MB), threads and open descriptors of the hendrix process. */
function sample() {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS') / 1024, hwm: field('VmHWM') / 1024, threads: field('Threads'), fds: readdirSync(`/proc/${child.pid}/fd`).length };
}

// ---- the run --------------------------------------------------------------------------------
const mb = (v) => `${v.toFixed(1)} MB`;
console.log(`bench/soak: hendrix up ${base} (pid ${child.pid}), ${minutes} min of mixed load, a sample every ${intervalMs / 1000} s`);
console.log(`machine: ${cpus().length} cores, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
await sleep(1_000);
const idle = sample();
console.log(`idle before the load: RSS ${mb(idle.rss)}, ${idle.fds} fds, ${idle.threads} threads\n`);
console.log('    time      RSS    fds  threads   req/s  published/s  delivered/s  reconnects  gaps');

const load = startLoad(base);
const samples = [];
const started = Date.now();
let last = { ...load.counters };
let lastAt = started;
while (Date.now() - started < minutes * 60_000) {
  await sleep(Math.min(intervalMs, minutes * 60_000 - (Date.now() - started)));
  const now = Date.now();
  const s = sample();
  const c = { ...load.counters };
  const per = (key) => (c[key] - last[key]) / ((now - lastAt) / 1000);
  const row = { t: (now - started) / 1000, ...s, reqs: per('requests'), pubs: per('published'), dels: per('delivered'), reconnects: c.reconnects, gaps: c.gaps };
  samples.push(row);
  console.log(
    `${`${row.t.toFixed(0)} s`.padStart(8)} ${mb(row.rss).padStart(9)} ${String(row.fds).padStart(6)} ${String(row.threads).padStart(8)} ` +
      `${row.reqs.toFixed(0).padStart(7)} ${row.pubs.toFixed(0).padStart(12)} ${row.dels.toFixed(0).padStart(12)} ${String(row.reconnects).padStart(11)} ${String(row.gaps).padStart(5)}`,
  );
  last = c;
  lastAt = now;
}
await load.stop();
const totals = { ...load.counters };
await sleep(5_000);
const after = sample();

const stopAt = Date.now();
child.kill('SIGTERM');
const [exitCode] = await new Promise((resolve) => child.once('exit', (...args) => resolve(args)));
const stopMs = Date.now() - stopAt;

// ---- the figures ----------------------------------------------------------------------------
const rss = samples.map((s) => s.rss);
const fds = samples.map((s) => s.fds);
const seconds = samples.at(-1)?.t ?? 0;
console.log(`\nRSS under load (MB), ${samples.length} samples:`);
for (const line of plot(rss, { format: (v) => v.toFixed(0), seconds })) console.log(`  ${line}`);
console.log('\nopen file descriptors under load:');
for (const line of plot(fds, { format: (v) => v.toFixed(0), seconds })) console.log(`  ${line}`);
const first = samples[0];
const end = samples.at(-1);
console.log(`
RSS      idle ${mb(idle.rss)} · first sample ${mb(first.rss)} · end ${mb(end.rss)} · max ${mb(Math.max(...rss))} (peak seen by the kernel ${mb(end.hwm)}) · after the load ${mb(after.rss)}
fds      idle ${idle.fds} · first ${first.fds} · end ${end.fds} · max ${Math.max(...fds)} · after the load ${after.fds}
threads  idle ${idle.threads} · end ${end.threads} · after the load ${after.threads}
load     ${totals.requests} requests (${totals.httpErrors} not 200), ${totals.published} published (${totals.publishErrors} refused), ${totals.delivered} delivered, ${totals.reconnects} subscriber cuts resumed with since (${totals.lostReported} acks said lost), ${totals.gaps} unexplained gaps, ${totals.shortLived} short-lived connections
logged   ${[...logged.warn].map(([m, n]) => `${n}× warn "${m}"`).join(', ') || 'no warnings'}; ${[...logged.error].map(([m, n]) => `${n}× error "${m}"`).join(', ') || 'no errors'}
stop     SIGTERM → exit ${exitCode} in ${stopMs} ms`);
if (values.json) writeFileSync(values.json, JSON.stringify({ idle, samples, after, totals, exitCode, stopMs }, null, 2));
