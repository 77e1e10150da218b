import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { followEvents, type ServerEvent } from '../../src/cli/events-client.js';
import { createControlServer, type ControlServer } from '../../src/runtime/control-socket.js';

/**
 * The event follower of `hendrix status --watch` and `hendrix dashboard`, against a real
 * control server on a unix socket: it resumes with Last-Event-ID after a stream ends, and
 * tells the end of the instance from the end of a stream.
 */
const dirs: string[] = [];
const servers: ControlServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('following GET /events', () => {
  it('reconnects with the last id after the stream ends, and resolves "gone" once the instance is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-events-'));
    dirs.push(dir);
    const asked: (string | undefined)[] = [];
    let connections = 0;
    let resolveSecond: () => void = () => undefined;
    const second = new Promise<void>((r) => (resolveSecond = r));
    const server = createControlServer({
      path: join(dir, 'ctl.sock'),
      log: pino({ level: 'silent' }),
      routes: {
        'GET /events': () => ({
          headers: { 'content-type': 'text/event-stream' },
          stream: (res, signal) => {
            connections++;
            // the server's view of where the client resumes: the header the client sent
            asked.push((res.req.headers['last-event-id'] as string | undefined) ?? undefined);
            if (connections === 1) {
              res.write('id: 41\nevent: transition\ndata: {"to":"starting"}\n\n: ping\n\nid: 42\nevent: transition\ndata: {"to":"ready"}\n\n');
              return; // the stream ends here: the client must come back for the rest
            }
            res.write('id: 43\nevent: operation\ndata: {"op":"restart"}\n\n');
            resolveSecond();
            return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
          },
        }),
      },
    });
    await server.listen();
    servers.push(server);
    const events: ServerEvent[] = [];
    const stop = new AbortController();
    const following = followEvents(server.path, { lastEventId: '40', signal: stop.signal, retryMs: 0, onEvent: (e) => events.push(e) });
    await second;
    while (events.length < 3) await new Promise((r) => setTimeout(r, 5));
    expect(asked).toEqual(['40', '42']);
    expect(events.map((e) => e.id)).toEqual(['41', '42', '43']);
    await server.close(); // the instance goes away: the stream ends and nobody answers any more
    expect(await following).toBe('gone');
  });

  it('resolves "aborted" when the watcher stops (^C), and "gone" at once when nobody runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-events-'));
    dirs.push(dir);
    expect(await followEvents(join(dir, 'nobody.sock'), { signal: new AbortController().signal, onEvent: () => undefined })).toBe('gone');
    const server = createControlServer({
      path: join(dir, 'ctl.sock'),
      log: pino({ level: 'silent' }),
      routes: { 'GET /events': () => ({ headers: { 'content-type': 'text/event-stream' }, stream: (_res, signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())) }) },
    });
    await server.listen();
    servers.push(server);
    const stop = new AbortController();
    const following = followEvents(server.path, { signal: stop.signal, onEvent: () => undefined });
    stop.abort();
    expect(await following).toBe('aborted');
  });

  it('rejects with the instance’s error when it has no event stream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-events-'));
    dirs.push(dir);
    const server = createControlServer({ path: join(dir, 'ctl.sock'), log: pino({ level: 'silent' }), routes: {} });
    await server.listen();
    servers.push(server);
    await expect(followEvents(server.path, { signal: new AbortController().signal, onEvent: () => undefined })).rejects.toMatchObject({ code: 'HX_ERR_CONTROL_REQUEST' });
  });
});
