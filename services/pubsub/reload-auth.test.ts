import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { reloadHub, startHub, useHubClients } from '../../test/helpers/pubsub/test-harness.js';

const connect = useHubClients();
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hendrix-hub-reload-auth-'));
  dirs.push(dir);
  return dir;
}

const token = (name: string, subscribe: string[], publish: string[] = []) => ({ token: `${name}-token-0123`, name, subscribe, publish });

describe('reload with new auth', () => {
  it('ends only the subscriptions the new permissions no longer cover, with a revoked error frame; the others keep flowing', async () => {
    const alice = token('alice', ['chat.>', 'news.>']);
    const bob = token('bob', ['chat.>']);
    const { hub, url } = await startHub({ auth: { tokens: [alice, bob] } });
    const a = await connect(`${url}?token=${alice.token}`);
    const b = await connect(`${url}?token=${bob.token}`);
    await a.request({ type: 'subscribe', topic: 'chat.lobby' });
    await a.request({ type: 'subscribe', topic: 'news.>' });
    await b.request({ type: 'subscribe', topic: 'chat.lobby' });

    await reloadHub(hub, { auth: { tokens: [{ ...alice, subscribe: ['news.>'] }, bob] } });
    expect(await a.next((f) => f.type === 'error')).toEqual({ type: 'error', code: 'revoked', topic: 'chat.lobby', message: expect.stringContaining('chat.lobby') });
    const handle = hub.handle();
    const chat = await handle.publish('chat.lobby', 'chat after');
    const news = await handle.publish('news.today', 'news after');
    // news was published after chat: once alice has it, chat would have arrived before it
    await a.next((f) => f['topic'] === 'news.today' && f['id'] === news);
    await b.next((f) => f['topic'] === 'chat.lobby' && f['id'] === chat);
    expect(a.messages().map((m) => m['topic'])).toEqual(['news.today']);
    expect(await a.request({ type: 'subscribe', topic: 'chat.lobby' })).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(b.frames.filter((f) => f.type === 'error')).toEqual([]);
    expect(a.closed).toBeUndefined();
    expect(b.closed).toBeUndefined();
  });

  it('a client whose token is no longer valid is told so and falls back to anonymous: it may authenticate again, or is closed after authTimeout', async () => {
    const carol = token('carol', ['chat.>', 'public.>']);
    const erin = token('erin', ['chat.>', 'public.>']);
    const dave = token('dave', ['chat.>']);
    const { hub, url } = await startHub({ auth: { tokens: [carol, erin], anonymous: { subscribe: ['public.>'] } } });
    const c = await connect(`${url}?token=${carol.token}`);
    const e = await connect(`${url}?token=${erin.token}`);
    for (const client of [c, e]) {
      await client.request({ type: 'subscribe', topic: 'chat.lobby' });
      await client.request({ type: 'subscribe', topic: 'public.notes' });
    }
    // the first reload removes their tokens; anonymous still may read public.>
    await reloadHub(hub, { auth: { tokens: [dave], anonymous: { subscribe: ['public.>'] }, authTimeout: '300ms' } });
    for (const client of [c, e]) {
      await client.next((f) => f['code'] === 'revoked');
      expect(client.frames.filter((f) => f.type === 'error')).toEqual([
        { type: 'error', code: 'unauthorized', message: expect.stringContaining('no longer valid') },
        { type: 'error', code: 'revoked', topic: 'chat.lobby', message: expect.any(String) },
      ]);
    }
    const notes = await hub.handle().publish('public.notes', 1);
    await e.next((f) => f['topic'] === 'public.notes' && f['id'] === notes);
    // carol authenticates with a token of the new config and subscribes again
    expect(await c.request({ type: 'auth', token: dave.token })).toMatchObject({ type: 'ack' });
    await c.request({ type: 'subscribe', topic: 'chat.lobby' });
    // the second reload lets anonymous do nothing: erin, still without a valid token, must send an auth frame in time
    await reloadHub(hub, { auth: { tokens: [dave], authTimeout: '300ms' } });
    expect(await e.whenClosed(5_000)).toEqual({ code: 1008, reason: 'authentication timeout' });
    const chat = await hub.handle().publish('chat.lobby', 'for dave');
    expect(await c.next((f) => f['topic'] === 'chat.lobby' && f['id'] === chat)).toMatchObject({ data: 'for dave' });
    expect(c.closed).toBeUndefined();
  });

  it('a new token works and a removed one is refused on new connections, over WebSocket and HTTP publish', async () => {
    const old = token('old', ['>'], ['>']);
    const fresh = token('fresh', ['>'], ['>']);
    const { hub, url, port } = await startHub({ auth: { tokens: [old] } });
    await expect(connect(`${url}?token=${fresh.token}`)).rejects.toThrow('refused: 401');
    await reloadHub(hub, { auth: { tokens: [fresh] } });
    await expect(connect(`${url}?token=${old.token}`)).rejects.toThrow('refused: 401');
    const client = await connect(`${url}?token=${fresh.token}`);
    expect(await client.request({ type: 'subscribe', topic: 'x' })).toMatchObject({ type: 'ack' });
    const post = (t: string) => fetch(`http://127.0.0.1:${port}/hub/publish/x`, { method: 'POST', headers: { authorization: `Bearer ${t}` }, body: '1' });
    expect((await post(old.token)).status).toBe(401);
    expect((await post(fresh.token)).status).toBe(202);
  });

  it('a broken new JWT key file rejects with its manifest path and the old key keeps working; a rotated key applies to new and open connections', async () => {
    const dir = await tempDir();
    const first = await generateKeyPair('ES256');
    await writeFile(join(dir, 'jwt.pub'), await exportSPKI(first.publicKey));
    await writeFile(join(dir, 'broken.pub'), 'not a key');
    const sign = (key: Parameters<SignJWT['sign']>[0]) => new SignJWT({ subscribe: ['chat.>'] }).setProtectedHeader({ alg: 'ES256' }).setSubject('ann').setExpirationTime('1h').sign(key);
    const oldJwt = await sign(first.privateKey);
    const { hub, url } = await startHub({ auth: { jwt: { publicKey: './jwt.pub' } } }, { baseDir: dir });
    const client = await connect(`${url}?token=${oldJwt}`);
    await client.request({ type: 'subscribe', topic: 'chat.lobby' });

    const error = await reloadHub(hub, { auth: { jwt: { publicKey: './broken.pub' } } }, { baseDir: dir }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'HX_ERR_PUBSUB_AUTH_KEY', path: ['services', 'hub', 'auth', 'jwt', 'publicKey'] });
    // the same config with the key file's content broken: read again, refused the same way
    await writeFile(join(dir, 'jwt.pub'), 'broken too');
    await expect(reloadHub(hub, { auth: { jwt: { publicKey: './jwt.pub' } } }, { baseDir: dir })).rejects.toMatchObject({ code: 'HX_ERR_PUBSUB_AUTH_KEY' });
    const before = await hub.handle().publish('chat.lobby', 'still here');
    await client.next((f) => f.type === 'message' && f['id'] === before);
    expect((await connect(`${url}?token=${oldJwt}`)).closed).toBeUndefined();

    // a rotated key: the old tokens are no longer valid, on new connections and on open ones
    const second = await generateKeyPair('ES256');
    await writeFile(join(dir, 'jwt.pub'), await exportSPKI(second.publicKey));
    await reloadHub(hub, { auth: { jwt: { publicKey: './jwt.pub' } } }, { baseDir: dir });
    expect(await client.next((f) => f['code'] === 'revoked')).toMatchObject({ topic: 'chat.lobby' });
    await expect(connect(`${url}?token=${oldJwt}`)).rejects.toThrow('refused: 401');
    const renewed = await connect(`${url}?token=${await sign(second.privateKey)}`);
    expect(await renewed.request({ type: 'subscribe', topic: 'chat.lobby' })).toMatchObject({ type: 'ack' });
  });

  it('a broken new schema rejects with its manifest path; nothing of that reload applies, the old schema and tokens stay', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'chat.json'), JSON.stringify({ type: 'object', required: ['text'] }));
    await writeFile(join(dir, 'broken.json'), '{ not json');
    const user = token('user', ['chat.>'], ['chat.>']);
    const { hub, url } = await startHub({ auth: { tokens: [user] }, topics: { 'chat.>': { schema: './chat.json' } } }, { baseDir: dir });
    const client = await connect(`${url}?token=${user.token}`);
    await client.request({ type: 'subscribe', topic: 'chat.lobby' });
    const added = token('added', ['>']);
    const error = await reloadHub(hub, { auth: { tokens: [user, added] }, topics: { 'chat.>': { schema: './broken.json' } } }, { baseDir: dir }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'HX_ERR_PUBSUB_SCHEMA', path: ['services', 'hub', 'topics', 'chat.>', 'schema'] });
    expect(await client.request({ type: 'publish', topic: 'chat.lobby', data: { no: 'text' } })).toMatchObject({ type: 'error', code: 'invalid_data' });
    expect(await client.request({ type: 'publish', topic: 'chat.lobby', data: { text: 'ok' } })).toMatchObject({ type: 'ack' });
    await expect(connect(`${url}?token=${added.token}`)).rejects.toThrow('refused: 401');
    expect(client.frames.filter((f) => f['code'] === 'revoked')).toEqual([]);
    expect(client.closed).toBeUndefined();
  });
});
