#!/usr/bin/env node
// bench/irc: an IRC relay in hendrix (`hendrix up`: a pub/sub hub and `irc` bots) against the
// same relay written by hand with irc-framework and ws (bare-bot.mjs, its own process), both
// relaying from the same hub to Debian's ngircd, started here on a loopback port.
//  1. relay latency: a WebSocket publish on the hub → the bot → ngircd → an observer client in
//     the channel; one message at a time (paced under ngircd's own throttle of ~3 commands/s),
//     hendrix and the bare bot alternating; p50 and p99.
//  2. sustained lines/s under the token bucket: --lines published at once; the observer times
//     the lines as the channel sees them. hendrix must match the configured rate after its
//     burst; the bare bot has no flood control (irc-framework has none), so only ngircd's
//     throttle paces it — a public network would disconnect it for "Excess Flood".
// Usage: npm run build && node bench/irc/run.mjs [--messages 50] [--pace 400] [--lines 40]
//          [--burst 4] [--interval 500]
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import irc from 'irc-framework';
import { WebSocket } from 'ws';
import { freePort, startNgircd } from './ngircd.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '50' },
    pace: { type: 'string', default: '400' },
    lines: { type: 'string', default: '40' },
    burst: { type: 'string', default: '4' },
    interval: { type: 'string', default: '500' },
  },
});
const messages = Number(values.messages);
const pace = Number(values.pace);
const lines = Number(values.lines);
const burst = Number(values.burst);
const interval = Number(values.interval);

try {
  execFileSync('sh', ['-c', 'command -v ngircd'], { stdio: 'ignore' });
} catch {
  console.error('ngircd is not installed: apt-get install -y ngircd');
  process.exit(1);
}
if (!existsSync(`${root}dist/bundle/cli.js`)) {
  console.error('hendrix is not built: npm run build');
  process.exit(1);
}

const children = new Set();
let server;
function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  server?.kill();
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/** Spawns `args` and resolves once a stdout line passes `ready`. */
function start(name, args, env, ready) {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready within 15 s:\n${output}`)), 15_000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      output += `${line}\n`;
      if (ready(line)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}):\n${output}`)));
  });
}

async function stopChild(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3_000))]);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

// --- the server, the two relays, the observer and the publisher -------------------------------
server = await startNgircd();
const ircServer = `127.0.0.1:${server.port}`;
const hubPort = await freePort();
const hendrix = await start(
  'hendrix up',
  ['bin/hendrix.js', 'up', '-f', `${here}hendrix.yaml`],
  { IRC_SERVER: ircServer, HUB_PORT: String(hubPort), RATE_BURST: String(burst), RATE_INTERVAL: `${interval}ms` },
  (line) => line.includes('"msg":"ready: '),
);
const bare = await start('bare bot', [`${here}bare-bot.mjs`], { IRC_SERVER: ircServer, HUB_URL: `ws://127.0.0.1:${hubPort}/hub` }, (line) => line === 'ready');

const observer = new irc.Client();
observer.connect({ host: '127.0.0.1', port: server.port, nick: 'observer', auto_reconnect: false, ping_interval: 0, ping_timeout: 0, account: {} });
await new Promise((resolve) => observer.once('registered', resolve));
const channels = ['#lat', '#rate', '#barelat', '#barerate'];
await new Promise((resolve) => {
  let joined = 0;
  observer.on('join', (e) => e.nick === 'observer' && ++joined === channels.length && resolve());
  for (const channel of channels) observer.join(channel);
});
/** Lines the observer saw: text → arrival time, per channel. */
const seen = new Map(channels.map((c) => [c, new Map()]));
const waiters = new Set();
observer.on('privmsg', (e) => {
  seen.get(e.target.toLowerCase())?.set(e.message, performance.now());
  for (const wake of waiters) wake();
});
function arrival(channel, text, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const at = seen.get(channel).get(text);
      if (at === undefined) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(at);
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`${text} did not reach ${channel} within ${ms} ms`));
    }, ms);
    waiters.add(check);
    check();
  });
}

const ws = new WebSocket(`ws://127.0.0.1:${hubPort}/hub`);
await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
const publish = (topic, data) => ws.send(JSON.stringify({ type: 'publish', topic, data }));

// --- 1. latency ---------------------------------------------------------------------------------
const relays = {
  hendrix: { topic: 'bench.lat', channel: '#lat', rateTopic: 'bench.rate', rateChannel: '#rate', latencies: [] },
  bare: { topic: 'bare.lat', channel: '#barelat', rateTopic: 'bare.rate', rateChannel: '#barerate', latencies: [] },
};
for (let i = 0; i < 5; i++) {
  // warm-up: code paths compiled, caches filled; not counted
  for (const r of Object.values(relays)) {
    publish(r.topic, `warm ${i}`);
    await arrival(r.channel, `warm ${i}`);
    await sleep(pace);
  }
}
for (let i = 0; i < messages; i++) {
  const order = i % 2 === 0 ? ['hendrix', 'bare'] : ['bare', 'hendrix'];
  for (const name of order) {
    const r = relays[name];
    const text = `lat ${i}`;
    const t0 = performance.now();
    publish(r.topic, text);
    r.latencies.push((await arrival(r.channel, text)) - t0);
    await sleep(pace);
  }
}

// --- 2. sustained rate --------------------------------------------------------------------------
async function measureRate(r) {
  const texts = Array.from({ length: lines }, (_, i) => `rate ${i}`);
  const t0 = performance.now();
  for (const text of texts) publish(r.rateTopic, text);
  const times = [];
  for (const text of texts) times.push(await arrival(r.rateChannel, text, lines * Math.max(interval, 400) + 15_000));
  if (process.env.BENCH_DEBUG) console.error(r.rateChannel, times.map((t) => Math.round(t - t0)).join(" "));
  const first = times[0];
  // the burst: what arrived at once. The sustained rate: the lines beyond the configured burst
  // over the time from the first arrival to the last. Not "after the lines seen at once": ngircd
  // throttles its clients too (about 3 lines at once, then some per second) and can regroup the
  // first lines of a burst, which shifts where "at once" ends without changing when the last
  // line arrives.
  const burstSeen = times.filter((t) => t - first < 250).length;
  const span = (times.at(-1) - first) / 1000;
  return { burstSeen, rate: (times.length - burst) / span, total: (times.at(-1) - t0) / 1000 };
}
const hRate = await measureRate(relays.hendrix);
await sleep(3_000); // let ngircd's throttle of the observer's server forget the first run
const bRate = await measureRate(relays.bare);

// --- report -------------------------------------------------------------------------------------
const h = [...relays.hendrix.latencies].sort((a, b) => a - b);
const b = [...relays.bare.latencies].sort((a, b2) => a - b2);
const configured = 1000 / interval;
console.log(`bench/irc — ngircd ${server.version}, node ${process.version}; latency: ${messages} messages each, paced ${pace} ms, alternated; rate: ${lines} lines at once`);
console.log('                                hendrix irc     bare irc-framework');
console.log(`relay latency p50 ms            ${fmt(quantile(h, 0.5)).padStart(11)}     ${fmt(quantile(b, 0.5)).padStart(18)}`);
console.log(`relay latency p99 ms            ${fmt(quantile(h, 0.99)).padStart(11)}     ${fmt(quantile(b, 0.99)).padStart(18)}`);
console.log(`relay latency max ms            ${fmt(h.at(-1)).padStart(11)}     ${fmt(b.at(-1)).padStart(18)}`);
console.log(`lines seen at once (burst)      ${String(hRate.burstSeen).padStart(11)}     ${String(bRate.burstSeen).padStart(18)}   (configured burst: ${burst}; ngircd reads about 3 lines of a client at once and holds the rest)`);
console.log(`sustained lines/s beyond burst  ${fmt(hRate.rate).padStart(11)}     ${fmt(bRate.rate).padStart(18)}`);
console.log(`configured lines/s              ${fmt(configured).padStart(11)}     ${'none'.padStart(18)}`);
console.log(`hendrix / configured rate       ${fmt(hRate.rate / configured, 3).padStart(11)}     (bare: paced by ngircd's own throttle only)`);
console.log(`all ${lines} lines delivered in s     ${fmt(hRate.total).padStart(11)}     ${fmt(bRate.total).padStart(18)}`);

ws.close();
observer.quit('bench done');
await Promise.all([stopChild(hendrix), stopChild(bare)]);
await server.stop();
server = undefined;
process.exit(0);
