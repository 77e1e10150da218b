import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reloadHub, startHub, useHubClients } from '../../test/helpers/pubsub/test-harness.js';
import type { HubClient } from '../../test/helpers/pubsub/test-client.js';
import { canReloadPubsub } from './can-reload.js';

const connect = useHubClients();
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hendrix-hub-reload-'));
  dirs.push(dir);
  return dir;
}

/** Waits until every client has the message `id`. */
async function allReceive(clients: readonly HubClient[], id: string): Promise<void> {
  await Promise.all(clients.map((c) => c.next((f) => f.type === 'message' && f['id'] === id, 10_000)));
}

const seqOf = (id: string): number => Number(id.split(':')[1]);
const epochOf = (id: string): string => id.split(':')[0] as string;

describe('canReload', () => {
  const can = (fields: string[][], roles: ('schema' | 'jwt-key' | 'app')[] = []) => canReloadPubsub({ fields, files: roles.map((role) => ({ path: `/x/${role}`, role })) });

  it('applies auth, origins, topics, limits, path and the connection limits in place, with schema and key files', () => {
    expect(can([['auth', 'tokens'], ['auth', 'jwt', 'publicKey'], ['origins'], ['topics', 'chat.*', 'schema'], ['topics', 'news.>', 'history']], ['schema', 'jwt-key'])).toBe(true);
    expect(can([['limits', 'publishRate'], ['limits', 'historyBytes'], ['maxPayload'], ['maxSubscriptions'], ['maxConnections'], ['maxBuffered'], ['slowConsumer'], ['heartbeat'], ['path'], ['httpPublish']])).toBe(true);
    expect(can([], ['schema'])).toBe(true);
  });

  it('replaces the service for listen, attach and backplane, and for files it does not read', () => {
    expect(can([['listen']])).toBe(false);
    expect(can([['attach']])).toBe(false);
    expect(can([['backplane']])).toBe(false);
    expect(can([['auth', 'tokens'], ['listen']])).toBe(false);
    expect(can([], ['app'])).toBe(false);
  });
});

describe('reload in place', () => {
  it('keeps 100 subscribed clients through 5 reloads (tokens, limits, schemas, history); each gets every message published after each reload, ids going on', async () => {
    const dir = await tempDir();
    const schema = join(dir, 'chat.json');
    await writeFile(schema, JSON.stringify({ type: 'object', required: ['text'] }));
    const reader = { token: 'reader-token-1', subscribe: ['chat.>'], publish: ['chat.>'] };
    const first = { auth: { tokens: [reader] }, topics: { 'chat.>': { history: 50, schema: './chat.json' } } };
    const { hub, url } = await startHub(first, { baseDir: dir });
    const clients = await Promise.all(Array.from({ length: 100 }, () => connect(`${url}?token=${reader.token}`)));
    await Promise.all(clients.map((c) => c.request({ type: 'subscribe', topic: 'chat.lobby' })));
    const handle = hub.handle();
    const ids = [await handle.publish('chat.lobby', { text: 'before' })];
    await allReceive(clients, ids[0] as string);

    const publisher = await connect(`${url}?token=second-token-2`).catch((e: unknown) => e);
    expect(String(publisher)).toContain('refused: 401');
    const second = { token: 'second-token-2', publish: ['chat.>'] };
    const steps: { config: Record<string, unknown>; before?: () => Promise<void>; data: Record<string, unknown> }[] = [
      // 1: a token added
      { config: { ...first, auth: { tokens: [reader, second] } }, data: { text: 'one' } },
      // 2: limits
      { config: { ...first, auth: { tokens: [reader, second] }, limits: { publishRate: 5, publishBurst: 3 }, maxSubscriptions: 2 }, data: { text: 'two' } },
      // 3: the schema file's content (the config is the same as step 2)
      {
        config: { ...first, auth: { tokens: [reader, second] }, limits: { publishRate: 5, publishBurst: 3 }, maxSubscriptions: 2 },
        before: () => writeFile(schema, JSON.stringify({ type: 'object', required: ['text', 'from'] })),
        data: { text: 'three', from: 'test' },
      },
      // 4: history settings
      { config: { ...first, auth: { tokens: [reader, second] }, topics: { 'chat.>': { history: 3, schema: './chat.json' } } }, data: { text: 'four', from: 'test' } },
      // 5: a token removed, the reader's permissions narrowed (still covering its subscription)
      { config: { ...first, auth: { tokens: [{ ...reader, subscribe: ['chat.lobby'] }] }, topics: { 'chat.>': { history: 3, schema: './chat.json' } } }, data: { text: 'five', from: 'test' } },
    ];
    for (const step of steps) {
      await step.before?.();
      await reloadHub(hub, step.config, { baseDir: dir });
      const id = await handle.publish('chat.lobby', step.data);
      ids.push(id);
      await allReceive(clients, id);
    }

    // nobody was closed or told anything but the messages, in order, one id sequence
    for (const client of clients) {
      expect(client.closed).toBeUndefined();
      expect(client.frames.filter((f) => f.type !== 'ack' && f.type !== 'message')).toEqual([]);
      expect(client.messages('chat.lobby').map((m) => m['id'])).toEqual(ids);
    }
    expect(new Set(ids.map(epochOf)).size).toBe(1);
    expect(ids.map(seqOf)).toEqual([1, 2, 3, 4, 5, 6]);

    // the last config is in effect: the schema of step 3, history 3, the removed token refused
    await expect(handle.publish('chat.lobby', { text: 'no from' })).rejects.toMatchObject({ code: 'HX_ERR_PUBSUB_REJECTED', message: expect.stringContaining('invalid_data') });
    await expect(connect(`${url}?token=second-token-2`)).rejects.toThrow('refused: 401');
    const late = await connect(`${url}?token=${reader.token}`);
    const replay = await late.request({ type: 'subscribe', topic: 'chat.lobby', since: ids[0] });
    expect(replay).toMatchObject({ type: 'ack', replayed: 3, lost: 'history' });
    expect(late.messages('chat.lobby').map((m) => m['id'])).toEqual(ids.slice(-3));
  }, 30_000);

  it('gives the topics already known their new history settings, and the hub its new limits.topics at once', async () => {
    const { hub, url } = await startHub();
    const handle = hub.handle();
    for (const topic of ['t.a', 't.b', 't.c']) await handle.publish(topic, 0);
    expect(handle.stats().topics).toBe(3);
    await reloadHub(hub, { topics: { 't.>': { history: 2 } } });
    const ids = [];
    for (let i = 1; i <= 3; i++) ids.push(await handle.publish('t.a', i));
    const client = await connect(url);
    expect(await client.request({ type: 'subscribe', topic: 't.a', since: ids[0] })).toMatchObject({ type: 'ack', replayed: 2 });
    expect(seqOf(ids[2] as string)).toBe(4);
    // history off: nothing kept, a since says so; fewer topics: the least recently published go
    await reloadHub(hub, { topics: {}, limits: { topics: 1 } });
    expect(handle.stats()).toMatchObject({ topics: 1, historyMessages: 0 });
    expect(await client.request({ type: 'subscribe', topic: 't.a', since: ids[0] })).toMatchObject({ type: 'ack', replayed: 0, lost: 'history' });
    expect(seqOf(await handle.publish('t.a', 4))).toBe(5);
  });

  it('applies new publish limits to the connections already open, and maxSubscriptions to their next subscribe', async () => {
    const { hub, url } = await startHub({ limits: { publishRate: 1000, publishBurst: 1000 } });
    const client = await connect(url);
    await client.request({ type: 'subscribe', topic: 'a' });
    await client.request({ type: 'subscribe', topic: 'b' });
    await reloadHub(hub, { limits: { publishRate: 1, publishBurst: 2 }, maxSubscriptions: 2 });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await client.request({ type: 'publish', topic: 'a', data: i }));
    expect(answers.map((a) => a['code'] ?? a.type)).toEqual(['ack', 'ack', 'rate_limited', 'rate_limited']);
    expect(await client.request({ type: 'subscribe', topic: 'c' })).toMatchObject({ code: 'too_many_subscriptions' });
    expect(client.closed).toBeUndefined();
  });

  it('takes upgrades at a new path and from new origins; a new maxPayload applies to new connections', async () => {
    const { hub, port } = await startHub({ path: '/hub', origins: ['https://old.example'] });
    const base = `ws://127.0.0.1:${port}`;
    const old = await connect(`${base}/hub`, { origin: 'https://old.example' });
    await old.request({ type: 'subscribe', topic: 'x' });
    await reloadHub(hub, { path: '/live', origins: ['https://new.example'], maxPayload: 100 });
    await expect(connect(`${base}/hub`)).rejects.toThrow('refused: 404');
    await expect(connect(`${base}/live`, { origin: 'https://old.example' })).rejects.toThrow('refused: 403');
    const fresh = await connect(`${base}/live`, { origin: 'https://new.example' });
    fresh.send({ type: 'publish', topic: 'x', data: 'y'.repeat(200) });
    expect((await fresh.whenClosed()).code).toBe(1009);
    // the connection from before the reload stays, with the maxPayload it was accepted with
    expect(await old.request({ type: 'publish', topic: 'x', data: 'y'.repeat(200) })).toMatchObject({ type: 'ack' });
    expect(await old.next((f) => f.type === 'message')).toMatchObject({ topic: 'x' });
    expect(old.closed).toBeUndefined();
  });
});
