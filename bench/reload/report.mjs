// bench/reload's figures: one summary per contender over its runs, the table, the ratios of
// hendrix to each peer, and the issue's goal (#14).
import os from 'node:os';
import { median } from '../tls/machine.mjs';

const LABELS = { 'hendrix': 'hendrix (in place)', 'hendrix-replace': 'hendrix --replace', 'hendrix-workers': 'hendrix workers ×2 (rolling)', caddy: 'caddy', pm2: 'pm2 cluster ×2' };
const PEERS = ['caddy', 'pm2'];
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** One contender's figures over its runs (failures summed, p99 the median, max the max). */
export function summarize(runs) {
  const reloads = runs.flatMap((r) => r.reloads);
  const times = reloads.map((r) => r.ms).filter((ms) => !Number.isNaN(ms));
  const codes = {};
  for (const code of reloads.flatMap((r) => r.codes)) codes[code] = (codes[code] ?? 0) + 1;
  const socket = { connect: 0, read: 0, write: 0, timeout: 0 };
  for (const key of Object.keys(socket)) socket[key] = sum(runs.map((r) => r.wrk[key]));
  const non2xx = sum(runs.map((r) => r.wrk.non2xx));
  return {
    requests: sum(runs.map((r) => r.wrk.requests)),
    rps: median(runs.map((r) => r.wrk.rps)),
    failed: sum(Object.values(socket)) + non2xx,
    socket,
    non2xx,
    p99: median(runs.map((r) => r.wrk.p99)),
    max: Math.max(...runs.map((r) => r.wrk.max)),
    newContent: { median: times.length ? median(times) : NaN, max: times.length === reloads.length ? Math.max(...times) : Infinity, all: reloads.map((r) => r.ms) },
    commandMs: reloads.map((r) => r.commandMs),
    appliedMs: reloads.map((r) => r.appliedMs),
    via: reloads.map((r) => r.via),
    failedReloads: reloads.filter((r) => r.exit !== 0 || Number.isNaN(r.ms)).length,
    reloads: reloads.length,
    droppedPerReload: sum(reloads.map((r) => r.dropped)) / reloads.length,
    dropped: reloads.map((r) => r.dropped),
    dropsBefore: sum(runs.map((r) => r.ws.dropsBefore)),
    codes,
    freshFailed: sum(reloads.map((r) => r.failed)),
    freshPolls: sum(reloads.map((r) => r.polls)),
    messages: { sent: sum(runs.map((r) => r.ws.sent)), lost: sum(runs.map((r) => r.ws.lost)), connectFailed: sum(runs.map((r) => r.ws.connectFailed)) },
  };
}

const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : x === Infinity ? 'never' : '—');
const codesText = (codes) => Object.entries(codes).map(([code, n]) => `${code}×${n}`).join(' ') || '—';
/** hendrix's figure over the peer's, or "a vs b" when the peer's is not a positive number. */
const ratio = (a, b) => (b > 0 && Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}×` : `${f(a, 1)} vs ${f(b, 1)}`);
/** Counts of failures side by side (a ratio of 0 to something says less than "0 vs 90"). */
const versus = (a, b, d = 0) => `${f(a, d)} vs ${f(b, d)}`;

/** Prints the table, the per-reload details, the ratios and the goal. */
export function printReport(summaries, { seconds, reloads, rounds, clients }) {
  const names = Object.keys(summaries);
  console.log(
    `bench/reload — ${rounds} round(s) of ${seconds} s: wrk -c32 -t2 --latency on a hello page, ${clients} WebSocket clients publishing through the hub, ${reloads} reloads each changing the page's text; node ${process.version}, ${os.availableParallelism()} CPUs, load ${os.loadavg()[0].toFixed(2)}`,
  );
  const head = ['contender', 'failed req', 'p99 ms', 'max ms', 'new content ms med/max', 'WS dropped/reload', 'close codes', 'fresh conn failed', 'msgs lost/sent'];
  const widths = [20, 10, 8, 8, 22, 17, 18, 17, 14];
  const line = (cells) => console.log(cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  '));
  line(head);
  for (const name of names) {
    const s = summaries[name];
    line([LABELS[name], s.failed, f(s.p99, 2), f(s.max, 1), `${f(s.newContent.median, 1)} / ${f(s.newContent.max, 1)}`, f(s.droppedPerReload, 1), codesText(s.codes), `${s.freshFailed}/${s.freshPolls}`, `${s.messages.lost}/${s.messages.sent}`]);
  }
  console.log('');
  for (const name of names) {
    const s = summaries[name];
    const via = s.via.find((v) => !v.startsWith('kill')) ?? s.via[0];
    const each = s.newContent.all.map((ms, i) => `${f(ms, 1)}${s.via[i] !== via ? ` (${s.via[i]})` : ''}`).join(', ');
    const commands = s.commandMs.map((ms) => (ms === null ? 'HUP' : f(ms))).join(', ');
    const applied = s.appliedMs.some((ms) => ms !== null) ? `; applied (the instance's own ms) ${s.appliedMs.map((ms) => (ms === null ? '—' : f(ms))).join(', ')}` : '';
    console.log(`${LABELS[name]}: ${s.requests} requests (${f(s.rps)} req/s); socket errors connect ${s.socket.connect}, read ${s.socket.read}, write ${s.socket.write}, timeout ${s.socket.timeout}; non-2xx/3xx ${s.non2xx}`);
    console.log(`  via ${via}: new content ms ${each}; command ms ${commands}${applied}; WS dropped ${s.dropped.join(', ')}${s.dropsBefore ? ` (+${s.dropsBefore} before the first reload)` : ''}; WS reconnects refused ${s.messages.connectFailed}${s.failedReloads ? `; ${s.failedReloads} reload(s) FAILED` : ''}`);
  }
  const ours = names.filter((n) => n.startsWith('hendrix'));
  const peers = names.filter((n) => PEERS.includes(n));
  if (ours.length && peers.length) {
    console.log('\nhendrix / peer (lower is better), and failure counts side by side:');
    for (const h of ours) {
      for (const p of peers) {
        const a = summaries[h];
        const b = summaries[p];
        console.log(
          `  ${LABELS[h]} / ${LABELS[p]}: p99 ${ratio(a.p99, b.p99)}, max ${ratio(a.max, b.max)}, new content (median) ${ratio(a.newContent.median, b.newContent.median)}; failed requests ${versus(a.failed, b.failed)}, WS dropped per reload ${versus(a.droppedPerReload, b.droppedPerReload, 1)}, fresh conn failed ${versus(a.freshFailed, b.freshFailed)}`,
        );
      }
    }
  }
  if (summaries.hendrix) {
    const s = summaries.hendrix;
    // per trigger: a kill -HUP starts no process; `hendrix reload` starts a Node CLI (~60 ms here before it runs a line)
    const byVia = (test) => s.newContent.all.filter((_, i) => test(s.via[i])).filter((ms) => !Number.isNaN(ms));
    const hup = byVia((v) => v.startsWith('kill'));
    const cli = byVia((v) => !v.startsWith('kill'));
    const hupMedian = hup.length ? median(hup) : NaN;
    const met = s.failed === 0 && s.droppedPerReload === 0 && s.failedReloads === 0 && hupMedian <= 50;
    console.log(
      `\ngoal (#14) in place: 0 failed requests (${s.failed}), 0 WebSocket drops (${s.droppedPerReload}), new content within 50 ms of the command: kill -HUP median ${f(hupMedian, 1)} ms (max ${f(Math.max(...hup), 1)}); hendrix reload median ${f(cli.length ? median(cli) : NaN, 1)} ms, of which a Node start: ${met ? 'met' : 'NOT met'}`,
    );
  }
  if (summaries['hendrix-replace']) {
    const s = summaries['hendrix-replace'];
    console.log(`goal (#14) --replace: 0 failed requests (${s.failed}), 0 WebSocket drops (${s.droppedPerReload}): ${s.failed === 0 && s.droppedPerReload === 0 && s.failedReloads === 0 ? 'met' : 'NOT met'}`);
  }
  if (summaries['hendrix-workers']) {
    // a rolling reload closes the WebSocket clients of each retired worker with 1012: they resume with since
    const s = summaries['hendrix-workers'];
    const only1012 = Object.keys(s.codes).every((code) => code === '1012');
    console.log(
      `goal (#15) rolling reload: 0 failed requests (${s.failed}), WebSocket clients closed only with 1012 (${codesText(s.codes)}), no message lost (${s.messages.lost} of ${s.messages.sent}): ${s.failed === 0 && s.failedReloads === 0 && only1012 && s.messages.lost === 0 ? 'met' : 'NOT met'}`,
    );
  }
}
