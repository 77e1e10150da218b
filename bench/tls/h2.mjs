#!/usr/bin/env node
// bench/tls h2: hello world over HTTP/2 through a hendrix `tls` listener (http2: true) against
// a bare node:http2 createSecureServer — same certificate (EC P-256, made for the run), same
// handler (bench/tls/app.mjs through the compatibility API), same Node, same load generator
// (h2load from Debian's nghttp2-client), alternated rounds, each server its own process.
// Prints req/s of both, the ratio, and the server's CPU per request (which a shared machine
// disturbs less than req/s).
// Usage: npm run build && node bench/tls/h2.mjs [--rounds 5] [--requests 100000] [--clients 50]
//          [--streams 10] [--warmup 20000] [--settle 10] [--retries 1] [--bare-http1] [--profile DIR]
// On a shared machine each measured pass first waits up to --settle seconds for other processes
// to quieten down, and is redone (up to --retries times) if they took over a quarter of a CPU;
// the medians leave out passes that stayed disturbed, when there are others.
// --bare-http1 gives the bare server allowHTTP1 too (hendrix's listener always serves HTTP/1.1 on
// the same port); --profile DIR runs each server once more under `node --cpu-prof` and writes the
// profiles there (summarize with bench/pubsub/profile-top.mjs).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, DISTURBED, machineBusySeconds, makeCertificate, median, requireBuild, requireTools, settle, stop } from './machine.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    requests: { type: 'string', default: '100000' },
    clients: { type: 'string', default: '50' },
    streams: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '20000' },
    settle: { type: 'string', default: '10' },
    retries: { type: 'string', default: '1' },
    'bare-http1': { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
});
const rounds = Number(values.rounds);

requireTools([['h2load', ['--version'], 'nghttp2-client'], ['openssl', ['version'], 'openssl']]);
requireBuild(root);

const children = new Set();
const tmp = mkdtempSync(join(os.tmpdir(), 'hendrix-bench-h2-'));
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(128 + os.constants.signals[signal]));

const { cert: CERT, key: KEY } = makeCertificate(tmp);

const TARGETS = {
  hendrix: [`${root}bin/hendrix.js`, 'up', '-f', `${here}hendrix-h2.yaml`],
  node: [`${here}bare-h2.mjs`],
};

/** Starts a server (optionally under --cpu-prof) and resolves with it and its https port. */
async function launch(name, profileDir) {
  const env = { ...process.env, CERT, KEY, BARE_HTTP1: values['bare-http1'] ? '1' : '0' };
  const flags = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${name}.cpuprofile`];
  const child = spawn(process.execPath, [...flags, ...TARGETS[name]], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const port = await new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name}: no "listening" line within 20 s`)), 20_000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (entry.msg === 'listening' && String(entry.address).startsWith('https://')) {
        clearTimeout(timer);
        done(Number(new URL(entry.address).port));
      }
    });
    child.once('exit', (code, signal) => fail(new Error(`${name} exited (${code ?? signal}) before listening`)));
  });
  return { child, port };
}


/** Runs h2load; resolves with req/s, the server's CPU µs per request and the share of a CPU other processes took. */
function h2load(port, pid, requests) {
  return new Promise((done, fail) => {
    const cpuBefore = cpuSeconds(pid);
    const busyBefore = machineBusySeconds();
    const started = performance.now();
    const args = ['-n', String(requests), '-c', values.clients, '-m', values.streams, `https://127.0.0.1:${port}/`];
    const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let loadCpu = 0;
    const sampler = setInterval(() => {
      try {
        loadCpu = cpuSeconds(child.pid);
      } catch {}
    }, 50);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.once('error', fail);
    child.once('close', (code) => {
      clearInterval(sampler);
      const seconds = (performance.now() - started) / 1000;
      const rps = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
      const ok = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/.exec(out);
      const tls = [/TLS Protocol: (\S+)/, /Cipher: (\S+)/, /Server Temp Key: ([^\n]+)/].map((re) => re.exec(out)?.[1]).filter(Boolean).join(' ');
      if (code !== 0 || rps === null || ok === null) return fail(new Error(`h2load exited with ${code}:\n${out}`));
      const cpu = cpuSeconds(pid) - cpuBefore;
      const others = Math.max(0, machineBusySeconds() - busyBefore - cpu - loadCpu);
      done({ tls, rps: Number(rps[1]), failed: requests - Number(ok[1]), usPerReq: (1e6 * cpu) / requests, cpuPct: (100 * cpu) / seconds, loadPct: (100 * loadCpu) / seconds, othersPct: (100 * others) / seconds });
    });
  });
}



/** A measured pass: on a quiet machine if it can be, redone if others disturbed it. */
async function measure(port, pid) {
  for (let attempt = 0; ; attempt++) {
    await settle(Number(values.settle));
    const pass = await h2load(port, pid, Number(values.requests));
    if (pass.othersPct <= DISTURBED || attempt >= Number(values.retries)) return pass;
  }
}

const results = { hendrix: [], node: [] };
const load = os.loadavg()[0];
for (let round = 0; round < rounds; round++) {
  for (const name of round % 2 ? ['node', 'hendrix'] : ['hendrix', 'node']) {
    const { child, port } = await launch(name);
    if (Number(values.warmup) > 0) await h2load(port, child.pid, Number(values.warmup));
    const pass = await measure(port, child.pid);
    results[name].push(pass);
    await stop(child);
    console.error(`round ${round + 1}/${rounds} ${name}: ${pass.rps.toFixed(0)} req/s, ${pass.usPerReq.toFixed(1)} µs CPU/req (server ${pass.cpuPct.toFixed(0)}%, h2load ${pass.loadPct.toFixed(0)}%, others ${pass.othersPct.toFixed(0)}%)`);
  }
}

const clean = (passes) => passes.filter((p) => p.othersPct <= DISTURBED);
// like with like: undisturbed passes only when both servers have some, else every pass of both
const onlyClean = clean(results.hendrix).length > 0 && clean(results.node).length > 0;
/** The median of a figure over the passes compared. */
const med = (name, key) => median((onlyClean ? clean(results[name]) : results[name]).map((p) => p[key]));
/** The median of the per-round ratios: the two passes of a round ran minutes apart at most, under similar load. */
const paired = (key) => median(results.hendrix.map((h, i) => h[key] / results.node[i][key]));
const row = (label, key, d = 0, ratio = true) =>
  console.log(`${label.padEnd(26)}${med('hendrix', key).toFixed(d).padStart(12)}   ${med('node', key).toFixed(d).padStart(16)}   ${ratio ? (med('hendrix', key) / med('node', key)).toFixed(3) : ''}`);
console.log(
  `bench/tls h2 — ${rounds} alternated rounds, h2load -n ${values.requests} -c ${values.clients} -m ${values.streams} (+${values.warmup} warm-up requests), node ${process.version}, ${os.availableParallelism()} CPUs, load ${load.toFixed(2)}`,
);
const negotiated = (name) => results[name][0]?.tls ?? '';
console.log(negotiated('hendrix') === negotiated('node') ? `negotiated by both: ${negotiated('node')}, certificate EC P-256` : `negotiated: hendrix ${negotiated('hendrix')}; node ${negotiated('node')} (differ!)`);
console.log(`bare server: node:http2 createSecureServer${values['bare-http1'] ? ' with allowHTTP1' : ''}, compatibility API; hendrix: tls listener with http2: true`);
console.log(`                           hendrix tls   bare node:http2   ratio`);
row('req/s (median)', 'rps');
row('server CPU µs/req', 'usPerReq', 1);
row('server CPU %', 'cpuPct', 0, false);
row('h2load CPU %', 'loadPct', 0, false);
row('other processes CPU %', 'othersPct', 0, false);
const list = (name) => results[name].map((p) => `${p.rps.toFixed(0)}${p.othersPct > DISTURBED ? '*' : ''}`).join(', ');
console.log(`all passes: hendrix ${list('hendrix')}; node ${list('node')}`);
const all = [...results.hendrix, ...results.node];
const disturbed = all.length - clean(all).length;
if (disturbed > 0) console.log(`* ${disturbed} of ${all.length} passes shared the machine with other processes (--retries ${values.retries})${onlyClean ? ', left out of the medians' : '; a server has no undisturbed pass: the medians are over every pass of both'}`);
console.log(`median of the per-round ratios: req/s ${paired('rps').toFixed(3)}, server CPU µs/req ${paired('usPerReq').toFixed(3)}`);
const failed = [...results.hendrix, ...results.node].reduce((sum, p) => sum + p.failed, 0);
if (failed > 0) console.log(`failed requests: ${failed}`);
const ratio = med('hendrix', 'rps') / med('node', 'rps');
console.log(`goal req/s ≥ 0.95 × bare: ${ratio >= 0.95 ? 'met' : 'NOT met'} (${ratio.toFixed(3)})`);

if (values.profile !== undefined) {
  const dir = resolve(values.profile);
  mkdirSync(dir, { recursive: true });
  for (const name of ['hendrix', 'node']) {
    const { child, port } = await launch(name, dir);
    await h2load(port, child.pid, Number(values.requests));
    await stop(child);
  }
  console.log(`profiles: ${dir}/hendrix.cpuprofile, ${dir}/node.cpuprofile (node bench/pubsub/profile-top.mjs FILE)`);
}
