import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addressOf, spawnCli, type CliProcess } from '../helpers/cli.js';
import { nodeRequest } from '../helpers/http/test-client.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { HubClient } from '../helpers/pubsub/test-client.js';

// SIGTERM to the built CLI under a steady request load with WebSockets open: every request the
// app was handed gets its full answer, every WebSocket gets 1001, the process exits 0.

const LOOPS = 16;
const SOCKETS = 100;
/** Responses to see before SIGTERM (the load is steady by then). */
const BEFORE = 1_000;

const APP = `
import { appendFileSync } from 'node:fs';
const started = new URL('./started.log', import.meta.url);
// each request is recorded as the app gets it, then answered 20-80 ms later
export default (req, res) => {
  const id = String(req.headers['x-id']);
  appendFileSync(started, id + '\\n');
  setTimeout(() => res.end('done ' + id), 20 + (Number(id.split('-')[1]) % 61));
};
`;

const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.process.exitCode === null && p.process.signalCode === null) p.process.kill('SIGKILL');
});

describe('SIGTERM under load', () => {
  const dirs = useManifestDirs();

  it(`${LOOPS} keep-alive request loops and ${SOCKETS} WebSockets: 0 failed in-flight requests, 1001 for each socket, exit 0`, async () => {
    const dir = dirs({
      'app.mjs': APP,
      'hendrix.yaml': 'version: 1\nservices:\n  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }\n  hub: { kind: pubsub, attach: web, path: /hub }\n',
    });
    const p = spawnCli(['up'], { cwd: dir });
    running.push(p);
    const ready = await p.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('ready:'), 15_000);
    const base = addressOf(ready, 'web');
    const sockets = await Promise.all(Array.from({ length: SOCKETS }, () => HubClient.connect(`${base.replace(/^http/, 'ws')}/hub`)));
    await Promise.all(sockets.map((s) => s.request({ type: 'subscribe', topic: 'load.>' })));

    const agent = new Agent({ keepAlive: true, maxSockets: LOOPS });
    const outcomes = new Map<string, { sentAt: number; endAt: number; result: string }>();
    let ok = 0;
    let termAt: number | undefined;
    let reachedBefore: () => void = () => undefined;
    const steady = new Promise<void>((r) => (reachedBefore = r));
    const loop = async (n: number): Promise<void> => {
      for (let i = 0; ; i++) {
        const id = `${n}-${i}`;
        const sentAt = Date.now();
        let result: string;
        try {
          const res = await nodeRequest(`${base}/`, { agent, headers: { 'x-id': id } });
          result = res.status === 200 && res.body === `done ${id}` ? 'ok' : `status ${res.status}: ${res.body}`;
        } catch (error) {
          result = `error ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
        }
        outcomes.set(id, { sentAt, endAt: Date.now(), result });
        if (result === 'ok' && ++ok === BEFORE) reachedBefore();
        // after SIGTERM each loop goes on until the server stops taking requests
        if (termAt !== undefined && result !== 'ok') return;
        if (termAt !== undefined && Date.now() - termAt > 10_000) return;
      }
    };
    const loops = Array.from({ length: LOOPS }, (_, n) => loop(n));
    await steady;
    termAt = Date.now();
    p.process.kill('SIGTERM');
    const code = await p.exited();
    await Promise.all(loops);
    agent.destroy();

    expect(code, p.stderr()).toBe(0);
    const started = readFileSync(join(dir, 'started.log'), 'utf8').split('\n').filter(Boolean);
    const failedInFlight = started.filter((id) => outcomes.get(id)?.result !== 'ok').map((id) => `${id}: ${outcomes.get(id)?.result ?? 'no outcome'}`);
    expect(failedInFlight).toEqual([]);
    // the load was real: requests were in flight at the SIGTERM and finished after it
    const inFlightAtTerm = [...outcomes.values()].filter((o) => o.sentAt <= (termAt as number) && o.endAt > (termAt as number) && o.result === 'ok');
    expect(inFlightAtTerm.length).toBeGreaterThan(0);
    // no request failed before the SIGTERM; after it, the ones that failed never reached the app
    expect([...outcomes].filter(([, o]) => o.result !== 'ok' && o.endAt < (termAt as number))).toEqual([]);
    const codes = await Promise.all(sockets.map(async (s) => s.closed?.code ?? (await s.whenClosed(5_000)).code));
    expect(new Set(codes)).toEqual(new Set([1001]));
    expect(started.length).toBeGreaterThanOrEqual(BEFORE);
  }, 28_000);
});
