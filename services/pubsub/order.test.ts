import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { up, type Hendrix } from '../../src/index.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { startRedisServer, type RedisServer } from '../../test/helpers/redis-server.js';
import { needCommand } from '../../test/helpers/system-command.js';

// The reply order of one connection (docs/pubsub-protocol.md, "Order"): every request is
// answered in the order it was sent, even when an earlier one (a publish waiting for the
// backplane, an auth frame being verified) takes longer than a later one (a ping).

type Frame = Record<string, unknown> & { type: string };

const project = useManifestDirs();
const running: Hendrix[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const app of running.splice(0)) await app.stop();
});

/** Starts a hub on its own port through the public API; `extra` is YAML under the service. */
async function startHub(extra = ''): Promise<string> {
  const dir = project({ 'hendrix.yaml': `version: 1\nservices:\n  hub:\n    kind: pubsub\n    listen: 127.0.0.1:0\n${extra}` });
  const app = await up(join(dir, 'hendrix.yaml'), { environment: {}, logger: createSilentLogger() });
  running.push(app);
  const url = app.addresses()['hub'];
  if (url === undefined) throw new Error('the hub has no address');
  return url;
}

/** A real `ws` client that keeps every frame the hub sent. */
async function connect(url: string): Promise<{ ws: WebSocket; frames: Frame[]; until: (count: number) => Promise<Frame[]> }> {
  const ws = new WebSocket(url);
  sockets.push(ws);
  const frames: Frame[] = [];
  let wake: () => void = () => undefined;
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as Frame);
    wake();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  // resolves once `count` frames came; fails (not a timing assertion: a guard against waiting
  // forever for frames that will not come) with what did come
  const until = (count: number): Promise<Frame[]> =>
    new Promise((resolve, reject) => {
      const fail = (why: string): void => reject(new Error(`${why} after ${frames.length} of ${count} frames: ${frames.map(label).join(', ')}`));
      const guard = setTimeout(() => fail('no more frames'), 5_000);
      const check = (): void => {
        if (frames.length < count) return;
        clearTimeout(guard);
        resolve(frames);
      };
      wake = check;
      ws.once('close', () => fail('closed'));
      check();
    });
  return { ws, frames, until };
}

/** Sends every frame in one go: they reach the hub in one read and are handled in one turn. */
function sendAll(ws: WebSocket, frames: Record<string, unknown>[]): void {
  for (const frame of frames) ws.send(JSON.stringify(frame));
}

/** A frame as `type:id` (`message:<topic>/<data>` for messages), for readable comparisons. */
function label(frame: Frame): string {
  if (frame.type === 'message') return `message:${String(frame['topic'])}/${JSON.stringify(frame['data'])}`;
  return `${frame.type}:${String(frame['id'])}`;
}

describe('the replies of one connection come in request order', () => {
  it('answers interleaved publish, ping, subscribe, publish, ping in the order they were sent', async () => {
    const url = await startHub();
    const client = await connect(url);
    const requests: Record<string, unknown>[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 200; i++) {
      requests.push(
        { type: 'publish', topic: `load.${i}`, data: i, id: `p${i}` },
        { type: 'ping', id: `g${i}` },
        { type: 'subscribe', topic: `watch.${i % 50}.*`, id: `s${i}` }, // within maxSubscriptions (100)
        { type: 'publish', topic: 'load', data: -i, id: `q${i}` },
        { type: 'ping', id: `h${i}` },
      );
      expected.push(`ack:p${i}`, `pong:g${i}`, `ack:s${i}`, `ack:q${i}`, `pong:h${i}`);
    }
    // a refused publish answers with an error frame at its place too
    requests.push({ type: 'publish', topic: 'bad..topic', data: 0, id: 'bad' }, { type: 'ping', id: 'last' });
    expected.push('error:bad', 'pong:last');
    sendAll(client.ws, requests);
    const frames = await client.until(expected.length);
    expect(frames.map(label)).toEqual(expected);
    expect(frames.filter((f) => f.type === 'ack' && String(f['id']).startsWith('p')).map((f) => String(f['messageId']).split(':')[1])).toEqual(Array(200).fill('1'));
  });

  it('keeps messages a publisher receives in line with its replies: the ack of a publish first, then the message', async () => {
    const url = await startHub();
    const client = await connect(url);
    const requests: Record<string, unknown>[] = [{ type: 'subscribe', topic: 'echo', id: 'sub' }];
    const expected = ['ack:sub'];
    for (let i = 0; i < 100; i++) {
      requests.push({ type: 'publish', topic: 'echo', data: i, id: `p${i}` }, { type: 'ping', id: `g${i}` });
      expected.push(`ack:p${i}`, `message:echo/${i}`, `pong:g${i}`);
    }
    sendAll(client.ws, requests);
    expect((await client.until(expected.length)).map(label)).toEqual(expected);
  });

  it('replays `since` behind an earlier pending publish, before the subscribe ack and before live messages', async () => {
    const url = await startHub('    topics:\n      kept: { history: 10 }\n');
    const publisher = await connect(url);
    publisher.ws.send(JSON.stringify({ type: 'publish', topic: 'kept', data: 'first', id: 'p0' }));
    const [ack] = await publisher.until(1);
    const since = String(ack?.['messageId']);
    const client = await connect(url);
    sendAll(client.ws, [
      { type: 'publish', topic: 'kept', data: 'second', id: 'p1' },
      { type: 'subscribe', topic: 'kept', since, id: 's1' },
      { type: 'publish', topic: 'kept', data: 'third', id: 'p2' },
      { type: 'ping', id: 'g1' },
    ]);
    const frames = await client.until(6);
    expect(frames.map(label)).toEqual(['ack:p1', 'message:kept/"second"', 'ack:s1', 'ack:p2', 'message:kept/"third"', 'pong:g1']);
    expect(frames[2]).toMatchObject({ replayed: 1 });
  });

  it('checks the requests sent right after an auth frame with the permissions it grants', async () => {
    const url = await startHub("    auth:\n      tokens: [{ token: writer-secret-1, publish: ['chat.>'], subscribe: ['chat.>'] }]\n");
    const client = await connect(url);
    const requests: Record<string, unknown>[] = [
      { type: 'ping', id: 'before' },
      { type: 'subscribe', topic: 'chat.lobby', id: 'refused' },
      { type: 'auth', token: 'writer-secret-1', id: 'auth' },
      { type: 'subscribe', topic: 'chat.lobby', id: 'sub' },
    ];
    const expected = ['pong:before', 'error:refused', 'ack:auth', 'ack:sub'];
    for (let i = 0; i < 20; i++) {
      requests.push({ type: 'publish', topic: 'chat.lobby', data: i, id: `p${i}` }, { type: 'ping', id: `g${i}` });
      expected.push(`ack:p${i}`, `message:chat.lobby/${i}`, `pong:g${i}`);
    }
    sendAll(client.ws, requests);
    const frames = await client.until(expected.length);
    expect(frames.map(label)).toEqual(expected);
    expect(frames[1]).toMatchObject({ code: 'unauthorized' });
  });
});

describe.runIf(needCommand('redis-server', 'redis-server'))('the reply order with a Redis backplane (publish acks after a round trip)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('answers publishes and pings in request order, each ack before the message it published', async () => {
    const url = await startHub(`    backplane: ${redis.url}\n`);
    const client = await connect(url);
    const requests: Record<string, unknown>[] = [{ type: 'subscribe', topic: 'echo', id: 'sub' }];
    const replies = ['ack:sub'];
    const messages: string[] = [];
    for (let i = 0; i < 100; i++) {
      requests.push({ type: 'publish', topic: 'echo', data: i, id: `p${i}` }, { type: 'ping', id: `g${i}` }, { type: 'subscribe', topic: `w.${i % 50}`, id: `s${i}` });
      replies.push(`ack:p${i}`, `pong:g${i}`, `ack:s${i}`);
      messages.push(`message:echo/${i}`);
    }
    sendAll(client.ws, requests);
    const frames = (await client.until(replies.length + messages.length)).map(label);
    // a message comes back from Redis on its own connection, at a moment of its own: where it
    // falls among later replies is not fixed, but never before the ack of its publish
    expect(frames.filter((f) => !f.startsWith('message:'))).toEqual(replies);
    expect(frames.filter((f) => f.startsWith('message:'))).toEqual(messages);
    for (let i = 0; i < 100; i++) expect(frames.indexOf(`ack:p${i}`)).toBeLessThan(frames.indexOf(`message:echo/${i}`));
  });
});
