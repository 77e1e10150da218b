import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_BUFFER, createEventLog, eventStream } from '../../src/admin/events.js';
import type { StatusJson } from '../../src/admin/types.js';
import { createRootLogger } from '../../src/log/logger.js';
import { createControlServer } from '../../src/runtime/control-socket.js';
import { admin, adminEvent, sse, type SseEvent } from '../helpers/admin.js';
import { spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';

const makeDir = useManifestDirs();
const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');
const MANIFEST = `services:
  web:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
  front:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
    dependsOn: [web]
  solo:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
`;
const readyOf = (service: string) => (list: SseEvent[]) => list.some((e) => e.event === 'transition' && adminEvent(e).data.service === service && adminEvent(e).data.to === 'ready');
const ids = (list: SseEvent[]) => list.map((e) => Number(e.id));

describe('GET /events of a running graph: ids, resume with Last-Event-ID, reset', () => {
  let p: CliProcess;
  let socket: { socket: string };
  const lastEventId = async () => ((await admin(socket, 'GET', '/status')).json as StatusJson).lastEventId;

  beforeAll(async () => {
    const dir = makeDir({ 'hendrix.yaml': MANIFEST, 'app.mjs': 'export default (req, res) => res.end("hi");\n' });
    p = spawnCli(['up'], { cwd: dir });
    socket = { socket: String((await p.waitForLog(isReady, 15_000)).control) };
  });
  afterAll(() => {
    if (p.process.exitCode === null) p.process.kill('SIGKILL');
  });

  it('a client that reconnects with Last-Event-ID gets exactly the events it missed: no gap, no duplicate', async () => {
    // a witness stays connected throughout; the client leaves and comes back
    const from = String(await lastEventId());
    const witness = await sse(socket, { lastEventId: from });
    const client = await sse(socket, { lastEventId: from });
    expect((await admin(socket, 'POST', '/services/web/restart')).status).toBe(200);
    await client.until(readyOf('front'));
    const last = client.events.at(-1)!.id!;
    client.close();
    await client.ended;

    // what happens while it is away: a restart, a stop and a start
    expect((await admin(socket, 'POST', '/services/web/restart')).status).toBe(200);
    await witness.until((list) => readyOf('front')(list.slice(list.findIndex((e) => e.id === last) + 1)));
    expect((await admin(socket, 'POST', '/services/solo/stop')).status).toBe(200);
    expect((await admin(socket, 'POST', '/services/solo/start')).status).toBe(200);
    const end = await lastEventId();
    await witness.until((list) => list.some((e) => Number(e.id) === end));

    const back = await sse(socket, { lastEventId: last });
    await back.until((list) => list.some((e) => Number(e.id) === end));
    const missed = witness.events.filter((e) => Number(e.id) > Number(last));
    expect(back.events).toEqual(missed);
    expect(ids(back.events)).toEqual(Array.from({ length: end - Number(last) }, (_, i) => Number(last) + 1 + i));
    expect(missed.map(adminEvent).filter((e) => e.type === 'operation').map((e) => `${e.data.op} ${e.data.service}`)).toEqual(['restart web', 'stop solo', 'start solo']);

    // and then the live ones, once each
    expect((await admin(socket, 'POST', '/services/solo/restart')).status).toBe(200);
    const next = await lastEventId();
    await back.until((list) => list.some((e) => Number(e.id) === next));
    expect(new Set(ids(back.events)).size).toBe(back.events.length);
    expect(ids(back.events)).toEqual(Array.from({ length: next - Number(last) }, (_, i) => Number(last) + 1 + i));
    for (const c of [witness, back]) c.close();
  });

  it('?lastEventId= resumes the same way, for tools that cannot set the header', async () => {
    const from = await lastEventId();
    expect((await admin(socket, 'POST', '/services/solo/restart')).status).toBe(200);
    const end = await lastEventId();
    const client = await sse(socket, { path: `/events?lastEventId=${from}` });
    await client.until((list) => list.some((e) => Number(e.id) === end));
    expect(ids(client.events)).toEqual(Array.from({ length: end - from }, (_, i) => from + 1 + i));
    client.close();
  });

  it('an id older than the buffer of 1000 events, or one this instance never gave, gets `event: reset` with the newest id, then the live events', async () => {
    // each restart of solo is 6 events (the operation and 5 transitions): push the first ones out
    while ((await lastEventId()) <= EVENT_BUFFER + 20) expect((await admin(socket, 'POST', '/services/solo/restart')).status).toBe(200);
    for (const ahead of [false, true]) {
      const newest = await lastEventId();
      const client = await sse(socket, { lastEventId: String(ahead ? newest + 500 : 1) });
      await client.until((list) => list.length > 0);
      expect(client.events[0]).toEqual({ id: String(newest), event: 'reset', data: JSON.stringify({ lastEventId: newest }) });
      expect((await admin(socket, 'POST', '/services/solo/restart')).status).toBe(200);
      await client.until(readyOf('solo'));
      expect(ids(client.events.slice(1))).toEqual(Array.from({ length: client.events.length - 1 }, (_, i) => newest + 1 + i));
      client.close();
    }
    // an id still in the buffer is not a reset
    const kept = (await lastEventId()) - 3;
    const client = await sse(socket, { lastEventId: String(kept) });
    await client.until((list) => list.length === 3);
    expect(ids(client.events)).toEqual([kept + 1, kept + 2, kept + 3]);
    client.close();
  });
});

describe('the SSE stream itself (an event log served on a real control socket)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hendrix-events-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('pings an idle client, resets one behind a small buffer, and ends every stream when the log closes', async () => {
    const log = createEventLog({ capacity: 3 });
    for (let i = 0; i < 5; i++) log.push('operation', { op: 'restart', service: `s${i}` });
    const server = createControlServer({ path: join(dir, 'c.sock'), routes: { 'GET /events': (request) => eventStream(log, request, { pingMs: 20 }) }, log: await createRootLogger({ level: 'silent', format: 'json', isTTY: false }) });
    await server.listen();
    try {
      const target = { socket: server.path };
      const behind = await sse(target, { lastEventId: '1' });
      const kept = await sse(target, { lastEventId: '2' });
      await behind.until((list, comments) => list.length === 1 && comments.includes(': ping'));
      expect(behind.events).toEqual([{ id: '5', event: 'reset', data: '{"lastEventId":5}' }]);
      await kept.until((list) => list.length === 3);
      expect(ids(kept.events)).toEqual([3, 4, 5]);
      log.push('reload', { phase: 'begin' });
      await behind.until((list) => list.length === 2);
      expect(adminEvent(behind.events[1]!)).toMatchObject({ id: 6, type: 'reload', data: { phase: 'begin' } });
      log.close();
      await Promise.all([behind.ended, kept.ended]);
    } finally {
      await server.close();
    }
  });
});
