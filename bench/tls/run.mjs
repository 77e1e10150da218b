#!/usr/bin/env node
// bench/tls: hello world through a hendrix `tls` listener against bare node:https — same
// certificate (EC P-256, made for the run with openssl), same handler, same Node, same load
// generator (wrk), alternated rounds, each server its own process. Two loads: keep-alive
// (req/s, p99) and a new TLS connection per request (`Connection: close`: handshakes/s; wrk
// resumes the TLS session when it can, and count-handshakes.mjs counts how often it did).
// The CPU time of the server, of wrk and of everything else says who the bottleneck was and
// whether other processes shared the machine.
// Usage: npm run build && node bench/tls/run.mjs [--rounds 3] [--duration 5] [--connections 50] [--warmup 2]
//          [--settle 10] [--retries 1]
// On a shared machine, each measured pass first waits up to --settle seconds for other processes
// to quieten down, and is redone (up to --retries times) if they took over a quarter of a CPU;
// the medians leave out passes that stayed disturbed, when there are others.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import { join } from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, DISTURBED, machineBusySeconds, makeCertificate, median, requireBuild, requireTools, settle, stop } from './machine.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '2' },
    settle: { type: 'string', default: '10' },
    retries: { type: 'string', default: '1' },
  },
});
const rounds = Number(values.rounds);

requireTools([['wrk', ['--version']], ['openssl', ['version']]]);
requireBuild(root);

// everything we start, so that an exit of any kind (end, error, Ctrl-C) takes it along
const children = new Set();
// once stopping, what we killed failing is expected: the run just ends. A Ctrl-C reaches the
// servers and wrk (same process group) as soon as us, so a failure waits a moment for the signal.
let stopping = false;
const fail = (reject) => (error) => {
  setTimeout(() => stopping || reject(error), 100);
};
const tmp = mkdtempSync(join(os.tmpdir(), 'hendrix-bench-tls-'));
function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, async () => {
    stopping = true;
    console.error(`\n${signal}: stopping`);
    // reap what we kill (at most a second), so nothing is left behind, not even a zombie
    const exits = [...children].map((child) => new Promise((r) => child.once('exit', r)));
    cleanup();
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 1000))]);
    process.exit(128 + os.constants.signals[signal]);
  });
}

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const { cert: CERT, key: KEY } = makeCertificate(tmp);

const TARGETS = {
  hendrix: [`${root}bin/hendrix.js`, 'up', '-f', `${here}hendrix.yaml`],
  node: [`${here}bare.mjs`],
};

/** Starts a server and resolves with its https port, read from its "listening" log line. */
async function launch(name) {
  const countFile = join(tmp, `handshakes-${name}.json`);
  rmSync(countFile, { force: true });
  const env = { ...process.env, CERT, KEY, HANDSHAKE_COUNT_FILE: countFile, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${new URL('count-handshakes.mjs', import.meta.url).href}`.trim() };
  const child = track(spawn(process.execPath, TARGETS[name], { env, stdio: ['ignore', 'pipe', 'inherit'] }));
  child.countFile = countFile;
  const port = await new Promise((resolve, rejectNow) => {
    const reject = fail(rejectNow);
    const timer = setTimeout(() => reject(new Error(`${name}: no "listening" line within 20 s`)), 20_000);
    // keeps reading stdout for the whole run, so the pipe never fills
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (entry.msg === 'listening' && String(entry.address).startsWith('https://')) {
        clearTimeout(timer);
        resolve(Number(new URL(entry.address).port));
      }
    });
    child.once('exit', (code, signal) => reject(new Error(`${name} exited (${code ?? signal}) before listening`)));
  });
  await check(name, port);
  return { child, port };
}

/** One request, verified against the run's certificate: the server answers what we think it does. */
function check(name, port) {
  return new Promise((resolve, rejectNow) => {
    const reject = fail(rejectNow);
    https
      .get({ host: '127.0.0.1', port, path: '/', ca: readFileSync(CERT), agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c) => (body += c));
        res.on('end', () => (res.statusCode === 200 && body === 'hello world\n' ? resolve() : reject(new Error(`${name}: unexpected answer ${res.statusCode} ${JSON.stringify(body)}`))));
      })
      .on('error', reject);
  });
}

/** What the same OpenSSL that wrk links negotiates with the server. */
function negotiated(port) {
  return new Promise((resolve, rejectNow) => {
    const reject = fail(rejectNow);
    const child = track(spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.once('error', reject);
    child.once('close', () => {
      if (stopping) return;
      const suite = /New, (\S+), Cipher is (\S+)/.exec(out);
      const group = /(?:Server|Peer) Temp Key: ([^,\n]+)/.exec(out);
      resolve(suite === null ? 'no handshake' : `${suite[1]} ${suite[2]} ${group?.[1] ?? ''}`.trim());
    });
  });
}

/** The server's TLS connection counts so far ({ full, resumed }), from count-handshakes.mjs. */
async function handshakes(child) {
  const read = () => {
    try {
      return JSON.parse(readFileSync(child.countFile, 'utf8'));
    } catch {
      return { seq: 0 };
    }
  };
  const seq = read().seq;
  child.kill('SIGUSR2');
  for (let i = 0; i < 200; i++) {
    const counts = read();
    if (counts.seq > seq) return counts;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('no handshake counts from the server (count-handshakes.mjs not loaded?)');
}




/** Runs wrk against the server; resolves with req/s, p99 (ms), requests, errors and the server's CPU seconds meanwhile. */
function wrk(port, pid, seconds, extra = []) {
  return new Promise((resolve, rejectNow) => {
    const reject = fail(rejectNow);
    const cpuBefore = cpuSeconds(pid);
    const busyBefore = machineBusySeconds();
    const args = ['-t1', `-c${values.connections}`, `-d${seconds}s`, '--latency', ...extra, `https://127.0.0.1:${port}/`];
    const child = track(spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] }));
    // wrk's own CPU time, sampled until it exits: near 100% means wrk (one thread) was the bottleneck
    let wrkCpu = 0;
    const sampler = setInterval(() => {
      try {
        wrkCpu = cpuSeconds(child.pid);
      } catch {}
    }, 50);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.once('error', reject);
    child.once('close', (code) => {
      clearInterval(sampler);
      if (code !== 0) return reject(new Error(`wrk exited with ${code}:\n${out}`));
      const cpu = cpuSeconds(pid) - cpuBefore;
      // everything else that ran meanwhile: other processes competing for the same CPUs
      const others = Math.max(0, machineBusySeconds() - busyBefore - cpu - wrkCpu);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
      const requests = Number(/(\d+) requests in/.exec(out)[1]);
      const p99raw = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
      const p99 = Number(p99raw[1]) * { us: 0.001, ms: 1, s: 1000 }[p99raw[2]];
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = (socket === null ? 0 : socket.slice(1).reduce((a, b) => a + Number(b), 0)) + Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      resolve({ rps, p99, requests, errors, cpu, cpuPct: (100 * cpu) / seconds, usPerReq: (1e6 * cpu) / Math.max(requests, 1), wrkPct: (100 * wrkCpu) / seconds, othersPct: (100 * others) / seconds });
    });
  });
}


/** A measured pass: on a quiet machine if it can be (settle), redone if others disturbed it (--retries). */
async function measure(port, pid, extra = []) {
  for (let attempt = 0; ; attempt++) {
    await settle(Number(values.settle));
    const result = await wrk(port, pid, Number(values.duration), extra);
    if (result.othersPct <= DISTURBED || attempt >= Number(values.retries)) return result;
  }
}

const CLOSE = ['-H', 'Connection: close'];
const results = { hendrix: { ka: [], hs: [], full: 0, resumed: 0, negotiated: '' }, node: { ka: [], hs: [], full: 0, resumed: 0, negotiated: '' } };
const load = os.loadavg()[0];

for (let round = 0; round < rounds; round++) {
  for (const name of round % 2 ? ['node', 'hendrix'] : ['hendrix', 'node']) {
    const { child, port } = await launch(name);
    const r = results[name];
    if (round === 0) r.negotiated = await negotiated(port);
    if (Number(values.warmup) > 0) {
      // warm-up passes, discarded
      await wrk(port, child.pid, Number(values.warmup));
      await wrk(port, child.pid, Number(values.warmup), CLOSE);
    }
    const ka = await measure(port, child.pid);
    const before = await handshakes(child);
    const hs = await measure(port, child.pid, CLOSE);
    const after = await handshakes(child);
    r.full += after.full - before.full;
    r.resumed += after.resumed - before.resumed;
    r.ka.push(ka);
    r.hs.push(hs);
    await stop(child);
    console.error(
      `round ${round + 1}/${rounds} ${name}: ${ka.rps.toFixed(0)} req/s keep-alive (${ka.usPerReq.toFixed(1)} µs CPU/req, others ${ka.othersPct.toFixed(0)}%), ${hs.rps.toFixed(0)} handshakes/s (${hs.usPerReq.toFixed(0)} µs CPU each, others ${hs.othersPct.toFixed(0)}%)`,
    );
  }
}

const clean = (passes) => passes.filter((p) => p.othersPct <= DISTURBED);
/** The median of a figure over the undisturbed passes, or over all when every pass was disturbed. */
const med = (passes, key) => median((clean(passes).length > 0 ? clean(passes) : passes).map((p) => p[key]));
const h = results.hendrix;
const n = results.node;
const fmt = (x, d = 0) => x.toFixed(d);
const row = (label, a, b, d = 0, ratio = true) =>
  console.log(`${label.padEnd(34)}${fmt(a, d).padStart(11)}   ${fmt(b, d).padStart(15)}   ${ratio ? (a / b).toFixed(3) : ''}`);
const both = (label, set, key, d = 0, ratio = true) => row(label, med(h[set], key), med(n[set], key), d, ratio);
const kaRatio = med(h.ka, 'rps') / med(n.ka, 'rps');
console.log(
  `bench/tls — ${rounds} alternated rounds, wrk -t1 -c${values.connections} -d${values.duration}s (+${values.warmup} s warm-up), node ${process.version}, ${os.availableParallelism()} CPUs, load ${load.toFixed(2)}`,
);
if (h.negotiated === n.negotiated) console.log(`negotiated by both: ${h.negotiated}, certificate EC P-256`);
else console.log(`negotiated: hendrix ${h.negotiated}; node ${n.negotiated} (differ!)`);
console.log(`medians over the passes other processes left alone (< ${DISTURBED}% of a CPU); CPU % is of one CPU`);
console.log(`                                  hendrix tls   bare node:https   ratio`);
both('keep-alive req/s', 'ka', 'rps');
both('keep-alive p99 ms', 'ka', 'p99', 2);
both('  server CPU µs/req', 'ka', 'usPerReq', 1);
both('  server CPU %', 'ka', 'cpuPct', 0, false);
both('  wrk CPU %', 'ka', 'wrkPct', 0, false);
both('  other processes CPU %', 'ka', 'othersPct', 0, false);
both('new handshakes/s', 'hs', 'rps');
const share = (r) => (100 * r.resumed) / Math.max(1, r.full + r.resumed);
row('  of which resumed sessions %', share(h), share(n), 0, false);
both('  server CPU µs/handshake', 'hs', 'usPerReq', 0);
both('  server CPU %', 'hs', 'cpuPct', 0, false);
both('  wrk CPU %', 'hs', 'wrkPct', 0, false);
both('  other processes CPU %', 'hs', 'othersPct', 0, false);
// every pass, a star on those other processes disturbed
const list = (passes) => passes.map((p) => `${fmt(p.rps)}${p.othersPct > DISTURBED ? '*' : ''}`).join(', ');
console.log(`all passes: hendrix req/s ${list(h.ka)}; node req/s ${list(n.ka)}`);
console.log(`            hendrix handshakes/s ${list(h.hs)}; node handshakes/s ${list(n.hs)}`);
const errors = (r) => [...r.ka, ...r.hs].reduce((sum, p) => sum + p.errors, 0);
if (errors(h) + errors(n) > 0) console.log(`wrk errors (socket + non-2xx): hendrix ${errors(h)}, node ${errors(n)}`);
const all = [h.ka, h.hs, n.ka, n.hs];
const disturbed = all.flat().length - all.flatMap(clean).length;
if (disturbed > 0) console.log(`* ${disturbed} of ${all.flat().length} passes shared the machine with other processes (--retries ${values.retries})${all.some((passes) => clean(passes).length === 0) ? '; a figure with no undisturbed pass is unreliable' : ''}`);
const unreliable = clean(h.ka).length === 0 || clean(n.ka).length === 0 ? ', unreliable: no undisturbed pass' : '';
console.log(`goal keep-alive req/s ≥ 0.95 × bare: ${kaRatio >= 0.95 ? 'met' : 'NOT met'} (${kaRatio.toFixed(3)}${unreliable})`);
