#!/usr/bin/env node
// bench/reload: reloading a running server under load, hendrix against the peers people use
// instead, measured in the same run. Each contender serves a hello page ("reload N") and a
// WebSocket hub; while wrk loads the page (-c32 -t2) and 50 WebSocket clients publish through
// the hub, the bench changes the page's text and reloads, evenly spaced. Per contender: wrk's
// failed requests, p99 and max latency; the time from the reload command to the new text (fresh
// connections every ~2 ms); WebSocket clients dropped per reload and their close codes; fresh
// connections that failed; messages lost.
//   hendrix          hendrix up, reloads alternately by kill -HUP and `hendrix reload -f`
//   hendrix-replace  hendrix up, `hendrix reload --replace -f` (new instances take over the socket)
//   hendrix-workers  hendrix up --workers 2, `hendrix reload -f`: new app code replaces the workers
//                    one at a time (the rolling reload of PM2's cluster mode)
//   caddy            caddy run (Caddyfile: respond, /hub reverse-proxied to a node ws backend), caddy reload
//   pm2              PM2 cluster mode, 2 workers (node http + ws app), pm2 reload
// Usage: npm run build && node bench/reload/run.mjs [--seconds 20] [--reloads 5] [--rounds 1]
//          [--clients 50] [--settle 10] [--only hendrix|hendrix-replace|hendrix-workers|caddy|pm2[,...]] [--json]
// (--only hendrix runs the three hendrix contenders.) Rounds rotate the order of the contenders; each
// contender starts once other processes leave the CPUs alone, or after --settle seconds.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { requireBuild, requireTools, settle } from '../tls/machine.mjs';
import { CONTENDERS } from './contenders.mjs';
import { pollNewContent, runWrk, startClients } from './load.mjs';
import { printReport, summarize } from './report.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    reloads: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '1' },
    clients: { type: 'string', default: '50' },
    settle: { type: 'string', default: '10' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const RELOADS = Number(values.reloads);
const ROUNDS = Number(values.rounds);
const CLIENTS = Number(values.clients);
const names = values.only ? values.only.split(',').flatMap((n) => (n === 'hendrix' ? ['hendrix', 'hendrix-replace', 'hendrix-workers'] : [n])) : Object.keys(CONTENDERS);
for (const name of names) {
  if (!(name in CONTENDERS)) {
    console.error(`unknown contender ${name}: choose among hendrix, ${Object.keys(CONTENDERS).join(', ')}`);
    process.exit(64);
  }
}
requireTools([['wrk', ['--version']], ...(names.includes('caddy') ? [['caddy', ['version']]] : [])]);
if (names.some((n) => n.startsWith('hendrix'))) requireBuild(root);

// everything we start, and what else must go (PM2's daemon), so that an exit of any kind
// (end, error, Ctrl-C) takes it along; every contender's files live in one temp folder
const children = new Set();
const cleanups = new Set();
const tmpRoot = mkdtempSync(join(os.tmpdir(), 'hendrix-bench-reload-'));
let stopping = false;
function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  for (const fn of cleanups) fn();
  cleanups.clear();
  rmSync(tmpRoot, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${signal}: stopping`);
    const exits = [...children].map((child) => new Promise((r) => child.once('exit', r)));
    cleanup();
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 1000))]);
    process.exit(128 + os.constants.signals[signal]);
  });
}
const track = (child) => {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const log = (line) => process.stderr.write(`${line}\n`);

/** One measured run of a contender: start, connect the clients, load, reload RELOADS times, stop. */
async function measure(name) {
  const tmp = mkdtempSync(join(tmpRoot, `${name}-`));
  const ctx = { tmp, track, reloads: RELOADS, onCleanup: (fn) => cleanups.add(fn) };
  const server = await CONTENDERS[name](ctx);
  const clients = await startClients(`ws://127.0.0.1:${server.port}/hub`, CLIENTS);
  const load = runWrk(`http://127.0.0.1:${server.port}/`, SECONDS, track);
  const t0 = performance.now();
  const reloads = [];
  for (let i = 1; i <= RELOADS; i++) {
    await sleep(t0 + (1000 * SECONDS * i) / (RELOADS + 1) - performance.now());
    const started = performance.now();
    const { via, done } = server.reload(i);
    const timed = done.then((r) => ({ ...r, ms: performance.now() - started }));
    const poll = await pollNewContent(server.port, i, started, timed);
    const cmd = await timed;
    reloads.push({ via, started, ...poll, commandMs: via.startsWith('kill') ? null : cmd.ms, appliedMs: cmd.appliedMs ?? null, exit: cmd.code, ...(cmd.code === 0 ? {} : { out: cmd.out }) });
    const failed = poll.failed ? `, ${poll.failed} fresh connections failed (${Object.entries(poll.errors).map(([k, v]) => `${k} ${v}`).join(', ')})` : '';
    const applied = cmd.appliedMs === undefined ? '' : ` (applied in ${cmd.appliedMs} ms)`;
    const took = via.startsWith('kill') ? '' : `, command ${cmd.ms.toFixed(0)} ms${applied}, exit ${cmd.code}`;
    log(`  ${name} reload ${i}/${RELOADS} (${via}): new content after ${poll.ms.toFixed(1)} ms${took}${failed}`);
    if (cmd.code !== 0) log(`    ${cmd.out.split('\n').slice(-20).join('\n    ')}`);
  }
  const wrk = await load;
  const ws = await clients.finish();
  // a close belongs to the reload whose window (its start to the next one's) it happened in
  reloads.forEach((r, i) => {
    const end = reloads[i + 1]?.started ?? Infinity;
    const closes = clients.closes.filter((c) => c.at >= r.started && c.at < end);
    r.dropped = closes.length;
    r.codes = closes.map((c) => c.code);
  });
  const dropsBefore = clients.closes.filter((c) => c.at < reloads[0].started).length;
  clients.close();
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
  return { wrk, ws: { ...ws, dropsBefore }, reloads: reloads.map(({ started, ...r }) => r) };
}

const runs = Object.fromEntries(names.map((n) => [n, []]));
for (let round = 0; round < ROUNDS; round++) {
  const order = names.map((_, i) => names[(i + round) % names.length]);
  for (const name of order) {
    // on a shared machine, start each contender when other processes have quietened (at most --settle s)
    await settle(Number(values.settle));
    log(`round ${round + 1}/${ROUNDS}: ${name}, ${SECONDS} s of wrk -c32 -t2, ${CLIENTS} WebSocket clients, ${RELOADS} reloads, load ${os.loadavg()[0].toFixed(2)}`);
    runs[name].push(await measure(name));
  }
}

const summaries = Object.fromEntries(names.map((n) => [n, summarize(runs[n])]));
if (values.json) {
  console.log(JSON.stringify({ seconds: SECONDS, reloads: RELOADS, rounds: ROUNDS, clients: CLIENTS, node: process.version, cpus: os.availableParallelism(), summaries, runs }, null, 2));
} else {
  printReport(summaries, { seconds: SECONDS, reloads: RELOADS, rounds: ROUNDS, clients: CLIENTS });
}
process.exit(0);
