import { afterEach, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { startHub, stopHubs } from '../../test/helpers/pubsub/test-harness.js';
import { HubClient, type Frame } from '../../test/helpers/pubsub/test-client.js';

const clients: HubClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await stopHubs();
});

async function connect(url: string, options = {}): Promise<HubClient> {
  const client = await HubClient.connect(url, options);
  clients.push(client);
  return client;
}

describe('subscribe, publish, ack', () => {
  it('delivers a publish to subscribers with an id and ts, and acks requests that carry an id', async () => {
    const { url } = await startHub();
    const a = await connect(url);
    const b = await connect(url);
    expect(await a.request({ type: 'subscribe', topic: 'chat.lobby' })).toMatchObject({ type: 'ack' });
    const ack = await b.request({ type: 'publish', topic: 'chat.lobby', data: { text: 'hi' } });
    expect(ack).toMatchObject({ type: 'ack', messageId: expect.stringMatching(/^[a-z0-9]+:1$/) });
    const message = await a.next((f) => f.type === 'message');
    expect(message).toEqual({ type: 'message', topic: 'chat.lobby', id: ack['messageId'], data: { text: 'hi' }, ts: expect.any(Number) });
    // the publisher did not subscribe: nothing for it; a publish without id gets no ack
    b.send({ type: 'publish', topic: 'chat.lobby', data: 2 });
    await a.next((f) => f.type === 'message' && f['data'] === 2);
    expect(b.frames.filter((f) => f.type !== 'ack')).toEqual([]);
    expect(b.frames).toHaveLength(1);
  });

  it('matches wildcards: * one segment, > the rest; a client subscribed twice gets a message once', async () => {
    const { url } = await startHub();
    const star = await connect(url);
    const rest = await connect(url);
    const both = await connect(url);
    await star.request({ type: 'subscribe', topic: 'chat.*' });
    await rest.request({ type: 'subscribe', topic: 'chat.>' });
    await both.request({ type: 'subscribe', topic: 'chat.*' });
    await both.request({ type: 'subscribe', topic: 'chat.lobby' });
    const pub = await connect(url);
    for (const topic of ['chat.lobby', 'chat.room.1', 'chatter', 'chat']) await pub.request({ type: 'publish', topic, data: topic });
    await pub.request({ type: 'publish', topic: 'done', data: 0 });
    await rest.next((f) => f['data'] === 'chat.room.1');
    await new Promise((r) => setTimeout(r, 50));
    expect(star.messages().map((m) => m['topic'])).toEqual(['chat.lobby']);
    expect(rest.messages().map((m) => m['topic'])).toEqual(['chat.lobby', 'chat.room.1']);
    expect(both.messages().map((m) => m['topic'])).toEqual(['chat.lobby']);
  });

  it('unsubscribes, and says when a client was not subscribed', async () => {
    const { url } = await startHub();
    const a = await connect(url);
    await a.request({ type: 'subscribe', topic: 'x.y' });
    expect(await a.request({ type: 'unsubscribe', topic: 'x.y' })).toMatchObject({ type: 'ack' });
    expect(await a.request({ type: 'unsubscribe', topic: 'x.y' })).toMatchObject({ type: 'error', code: 'not_subscribed' });
    const b = await connect(url);
    await b.request({ type: 'publish', topic: 'x.y', data: 1 });
    await new Promise((r) => setTimeout(r, 50));
    expect(a.messages()).toEqual([]);
  });

  it('keeps the order of messages, acks and errors on one connection', async () => {
    const { url } = await startHub();
    const a = await connect(url);
    await a.request({ type: 'subscribe', topic: 'n' });
    for (let i = 0; i < 200; i++) a.send({ type: 'publish', topic: 'n', data: i });
    await a.next((f) => f['data'] === 199);
    expect(a.messages('n').map((m) => m['data'])).toEqual([...Array(200).keys()]);
    const seqs = a.messages('n').map((m) => Number(String(m['id']).split(':')[1]));
    expect(seqs).toEqual([...Array(200).keys()].map((i) => i + 1));
  });
});

describe('bad input: error frames, the process survives', () => {
  it('answers malformed JSON, unknown types, bad topics and bad frames with error frames', async () => {
    const { url } = await startHub();
    const a = await connect(url);
    a.send('{not json');
    expect(await a.next((f) => f.type === 'error')).toMatchObject({ code: 'bad_json' });
    const cases: [Record<string, unknown>, string][] = [
      [{ type: 'dance' }, 'unknown_type'],
      [{ type: 'publish', topic: 'a.*', data: 1 }, 'bad_topic'],
      [{ type: 'publish', topic: 'a..b', data: 1 }, 'bad_topic'],
      [{ type: 'publish', topic: 'a' }, 'bad_frame'],
      [{ type: 'subscribe', topic: 'a.>.b' }, 'bad_topic'],
      [{ type: 'subscribe', topic: 42 }, 'bad_topic'],
      [{ type: 'subscribe', topic: 'a.*', since: 'e:1' }, 'bad_since'],
      [{ type: 'subscribe', topic: 'a', since: 'nonsense' }, 'bad_since'],
    ];
    for (const [frame, code] of cases) expect(await a.request(frame)).toMatchObject({ type: 'error', code });
    a.send('[1,2]');
    expect(await a.next((f) => f.type === 'error' && f['code'] === 'bad_frame')).toBeDefined();
    // still usable
    expect(await a.request({ type: 'subscribe', topic: 'ok' })).toMatchObject({ type: 'ack' });
  });

  it('closes a connection that sends an oversize frame with 1009; other clients are unaffected', async () => {
    const { url } = await startHub({ maxPayload: '1kb' });
    const big = await connect(url);
    const other = await connect(url);
    await other.request({ type: 'subscribe', topic: 't' });
    big.send({ type: 'publish', topic: 't', data: 'x'.repeat(2_000) });
    expect((await big.whenClosed()).code).toBe(1009);
    const pub = await connect(url);
    await pub.request({ type: 'publish', topic: 't', data: 'fine' });
    expect(await other.next((f) => f.type === 'message')).toMatchObject({ data: 'fine' });
  });

  it('limits subscriptions per connection', async () => {
    const { url } = await startHub({ maxSubscriptions: 2 });
    const a = await connect(url);
    await a.request({ type: 'subscribe', topic: 'a' });
    await a.request({ type: 'subscribe', topic: 'b' });
    expect(await a.request({ type: 'subscribe', topic: 'a' })).toMatchObject({ type: 'ack' }); // again: no new slot
    expect(await a.request({ type: 'subscribe', topic: 'c' })).toMatchObject({ type: 'error', code: 'too_many_subscriptions' });
  });

  it('refuses connections over maxConnections with 503', async () => {
    const { url } = await startHub({ maxConnections: 1 });
    await connect(url);
    await expect(HubClient.connect(url)).rejects.toThrow('refused: 503');
  });

  it('refuses origins not on the allowlist with 403, lets servers without Origin in', async () => {
    const { url } = await startHub({ origins: ['https://app.example'] });
    await expect(HubClient.connect(url, { origin: 'https://evil.example' })).rejects.toThrow('refused: 403');
    await connect(url, { origin: 'https://app.example' });
    await connect(url);
  });
});

describe('history and since', () => {
  it('replays what a client missed, then goes on live', async () => {
    const { url } = await startHub({ topics: { 'chat.*': { history: 3 } } });
    const pub = await connect(url);
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push(String((await pub.request({ type: 'publish', topic: 'chat.lobby', data: i }))['messageId']));
    const late = await connect(url);
    const ack = await late.request({ type: 'subscribe', topic: 'chat.lobby', since: ids[2] });
    expect(ack).toMatchObject({ type: 'ack', replayed: 2 });
    expect(ack['lost']).toBeUndefined();
    expect(late.messages().map((m) => m['data'])).toEqual([4, 5]);
    // replays come before the ack
    expect(late.frames.findIndex((f) => f.type === 'ack')).toBe(2);
    await pub.request({ type: 'publish', topic: 'chat.lobby', data: 6 });
    await late.next((f) => f['data'] === 6);
  });

  it('says when history was exhausted or the epoch changed', async () => {
    const { url } = await startHub({ topics: { 'chat.*': { history: 2 } } });
    const pub = await connect(url);
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push(String((await pub.request({ type: 'publish', topic: 'chat.lobby', data: i }))['messageId']));
    const a = await connect(url);
    expect(await a.request({ type: 'subscribe', topic: 'chat.lobby', since: ids[0] })).toMatchObject({ replayed: 2, lost: 'history' });
    const epoch = String(ids[0]).split(':')[0];
    const b = await connect(url);
    expect(await b.request({ type: 'subscribe', topic: 'chat.lobby', since: `other${epoch}:3` })).toMatchObject({ replayed: 2, lost: 'epoch' });
    const c = await connect(url);
    expect(await c.request({ type: 'subscribe', topic: 'news', since: ids[0] })).toMatchObject({ replayed: 0, lost: 'history' });
  });

  it('drops kept messages older than ttl', async () => {
    const { url } = await startHub({ topics: { t: { history: 10, ttl: '100ms' } } });
    const pub = await connect(url);
    const first = String((await pub.request({ type: 'publish', topic: 't', data: 1 }))['messageId']);
    await pub.request({ type: 'publish', topic: 't', data: 2 });
    await new Promise((r) => setTimeout(r, 150));
    await pub.request({ type: 'publish', topic: 't', data: 3 });
    const late = await connect(url);
    expect(await late.request({ type: 'subscribe', topic: 't', since: first })).toMatchObject({ replayed: 1, lost: 'history' });
    expect(late.messages().map((m) => m['data'])).toEqual([3]);
  });
});

describe('schemas', () => {
  it('refuses data that fails the topic schema; nobody receives it', async () => {
    const { url } = await startHub({ topics: { 'chat.*': { schema: './chat-message.json' } } });
    const sub = await connect(url);
    await sub.request({ type: 'subscribe', topic: 'chat.>' });
    const pub = await connect(url);
    const bad = await pub.request({ type: 'publish', topic: 'chat.lobby', data: { user: 'ann', text: 5, extra: true } });
    expect(bad).toMatchObject({ type: 'error', code: 'invalid_data' });
    expect(String(bad['message'])).toMatch(/\/text must be string/);
    expect(await pub.request({ type: 'publish', topic: 'chat.lobby', data: { user: 'ann', text: 'hi' } })).toMatchObject({ type: 'ack' });
    await sub.next((f) => f.type === 'message');
    expect(sub.messages()).toHaveLength(1);
  });
});

describe('auth', () => {
  const auth = {
    tokens: [
      { token: 'reader-secret-1', subscribe: ['chat.>'], name: 'reader' },
      { token: 'writer-secret-1', publish: ['chat.*'], subscribe: ['chat.>'], name: 'writer' },
    ],
    anonymous: { subscribe: ['public.*'] },
  };

  it('refuses an unknown token with 401; checks publish and subscribe against the token', async () => {
    const { url } = await startHub({ auth });
    await expect(HubClient.connect(`${url}?token=wrong-token-123`)).rejects.toThrow('refused: 401');
    const reader = await connect(`${url}?token=reader-secret-1`);
    expect(await reader.request({ type: 'subscribe', topic: 'chat.lobby' })).toMatchObject({ type: 'ack' });
    expect(await reader.request({ type: 'subscribe', topic: 'admin.x' })).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await reader.request({ type: 'publish', topic: 'chat.lobby', data: 1 })).toMatchObject({ type: 'error', code: 'forbidden' });
    const writer = await connect(url, { headers: { authorization: 'Bearer writer-secret-1' } });
    expect(await writer.request({ type: 'publish', topic: 'chat.lobby', data: 'ok' })).toMatchObject({ type: 'ack' });
    expect(await writer.request({ type: 'publish', topic: 'chat.a.b', data: 'no' })).toMatchObject({ type: 'error', code: 'forbidden' });
    await reader.next((f) => f.type === 'message');
    expect(reader.messages().map((m) => m['data'])).toEqual(['ok']);
  });

  it('lets anonymous clients do what `anonymous` allows, and authenticate with a first frame', async () => {
    const { url } = await startHub({ auth });
    const anon = await connect(url);
    expect(await anon.request({ type: 'subscribe', topic: 'public.news' })).toMatchObject({ type: 'ack' });
    expect(await anon.request({ type: 'subscribe', topic: 'chat.lobby' })).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect(await anon.request({ type: 'auth', token: 'writer-secret-1' })).toMatchObject({ type: 'ack' });
    expect(await anon.request({ type: 'subscribe', topic: 'chat.lobby' })).toMatchObject({ type: 'ack' });
    const liar = await connect(url);
    expect(await liar.request({ type: 'auth', token: 'nope-nope-nope' })).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect((await liar.whenClosed()).code).toBe(1008);
  });

  it('closes a tokenless client that never authenticates when anonymous may do nothing', async () => {
    const { url } = await startHub({ auth: { tokens: [{ token: 'writer-secret-1', publish: ['>'] }], authTimeout: '100ms' } });
    const silent = await connect(url);
    expect((await silent.whenClosed()).code).toBe(1008);
    expect(silent.frames.find((f) => f.type === 'error')).toMatchObject({ code: 'unauthorized' });
  });

  it('accepts JWTs whose claims list the patterns; refuses bad signatures and expired tokens', async () => {
    const secret = 'a-very-long-hmac-secret-for-tests';
    const { url } = await startHub({ auth: { jwt: { secret, issuer: 'tests' } } });
    const key = new TextEncoder().encode(secret);
    const sign = (claims: Record<string, unknown>, exp = '1h', k = key) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer('tests').setSubject('ann').setExpirationTime(exp).sign(k);
    const good = await connect(`${url}?token=${await sign({ publish: ['chat.*'], subscribe: ['chat.>'] })}`);
    expect(await good.request({ type: 'subscribe', topic: 'chat.room' })).toMatchObject({ type: 'ack' });
    expect(await good.request({ type: 'publish', topic: 'chat.room', data: 1 })).toMatchObject({ type: 'ack' });
    expect(await good.request({ type: 'publish', topic: 'ops.x', data: 1 })).toMatchObject({ type: 'error', code: 'forbidden' });
    await expect(HubClient.connect(`${url}?token=${await sign({ publish: ['>'] }, '1h', new TextEncoder().encode('another-secret-of-enough-length'))}`)).rejects.toThrow('refused: 401');
    await expect(HubClient.connect(`${url}?token=${await sign({ publish: ['>'] }, '-1s')}`)).rejects.toThrow('refused: 401');
  });
});

describe('auth with a JWT public key', () => {
  it('verifies ES256 tokens against the PEM file in publicKey; a missing file stops the start with its line', async () => {
    const { generateKeyPair, exportSPKI, SignJWT: Sign } = await import('jose');
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const folder = await mkdtemp(join(tmpdir(), 'hendrix-jwt-'));
    await writeFile(join(folder, 'jwt.pub'), await exportSPKI(publicKey));
    const { url } = await startHub({ auth: { jwt: { publicKey: join(folder, 'jwt.pub') } } });
    const token = await new Sign({ subscribe: 'news.* alerts.>' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('5m').sign(privateKey);
    const client = await connect(url, { headers: { authorization: `Bearer ${token}` } });
    expect(await client.request({ type: 'subscribe', topic: 'alerts.disk.sda' })).toMatchObject({ type: 'ack' });
    expect(await client.request({ type: 'subscribe', topic: 'ops' })).toMatchObject({ type: 'error', code: 'forbidden' });
    // an HS256 token signed with the public key text is refused (algorithms are pinned)
    const confused = await new Sign({ subscribe: ['>'] }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(await exportSPKI(publicKey)));
    await expect(HubClient.connect(`${url}?token=${confused}`)).rejects.toThrow('refused: 401');
    const error = await startHub({ auth: { jwt: { publicKey: './missing.pub' } } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'HX_ERR_PUBSUB_AUTH_KEY', path: ['services', 'hub', 'auth', 'jwt', 'publicKey'] });
  });
});

describe('HTTP publish', () => {
  it('publishes a JSON body with POST {path}/publish/{topic} and answers 202 with the id', async () => {
    const { url, port } = await startHub({ auth: { tokens: [{ token: 'writer-secret-1', publish: ['alerts.>'], subscribe: ['>'] }] } });
    const sub = await connect(`${url}?token=writer-secret-1`);
    await sub.request({ type: 'subscribe', topic: 'alerts.>' });
    const base = `http://127.0.0.1:${port}/hub/publish`;
    const post = (topic: string, body: string, headers: Record<string, string> = { authorization: 'Bearer writer-secret-1' }) => fetch(`${base}/${topic}`, { method: 'POST', body, headers });
    const ok = await post('alerts.disk', JSON.stringify({ free: '2%' }));
    expect(ok.status).toBe(202);
    const { id } = (await ok.json()) as { id: string };
    expect(await sub.next((f) => f.type === 'message')).toMatchObject({ id, topic: 'alerts.disk', data: { free: '2%' } });
    expect((await post('alerts.disk', '{bad')).status).toBe(400);
    expect((await post('alerts.disk', '1', {})).status).toBe(401);
    expect((await post('other', '1')).status).toBe(403);
    expect((await post('a.*', '1')).status).toBe(400);
    expect((await fetch(`${base}/alerts.x`)).status).toBe(405);
    expect((await post('alerts.big', JSON.stringify('x'.repeat(70_000)))).status).toBe(413);
  });
});

describe('slow consumers and heartbeat', () => {
  it('closes a consumer that does not read with 1008 (policy close), counting what was dropped', async () => {
    const { url, hub } = await startHub({ maxBuffered: '16kb', slowConsumer: 'close' });
    const slow = await connect(url);
    await slow.request({ type: 'subscribe', topic: 'flood' });
    slow.ws.pause(); // stops reading the socket: the hub's buffer fills up
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const pub = await connect(url);
    const payload = 'y'.repeat(4_000);
    for (let i = 0; i < 2_000 && !slow.closed; i++) {
      pub.send({ type: 'publish', topic: 'flood', data: payload });
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    slow.ws.resume();
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await slow.whenClosed(5_000)).code).toBe(1008);
    expect(hub.handle().stats().dropped).toBeGreaterThan(0);
  });

  it('drops messages for a slow consumer under policy drop and keeps it connected', async () => {
    const { url, hub } = await startHub({ maxBuffered: '16kb', slowConsumer: 'drop' });
    const slow = await connect(url);
    await slow.request({ type: 'subscribe', topic: 'flood' });
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const pub = await connect(url);
    // the kernel's socket buffers take a few megabytes before the hub's own buffer grows
    let sent = 0;
    while (hub.handle().stats().dropped === 0 && sent < 5_000) {
      for (let i = 0; i < 50; i++, sent++) pub.send({ type: 'publish', topic: 'flood', data: 'z'.repeat(4_000) });
      await pub.request({ type: 'ping' });
    }
    expect(hub.handle().stats().dropped).toBeGreaterThan(0);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await slow.next((f) => f.type === 'message');
    expect(slow.closed).toBeUndefined();
    expect(slow.messages().length).toBeLessThan(sent);
  });

  it('terminates a client that stops answering pings', async () => {
    const { url, hub } = await startHub({ heartbeat: '50ms' });
    const alive = await connect(url);
    const dead = await connect(url);
    // a peer that never answers pings: its socket stops reading
    (dead.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await new Promise((r) => setTimeout(r, 250));
    expect(hub.handle().stats().connections).toBe(1);
    expect(alive.closed).toBeUndefined();
  });
});

describe('stop', () => {
  it('closes clients with 1001 going away and refuses new ones', async () => {
    const { log, lines } = createCapturingLogger();
    const { url, hub } = await startHub({}, { log });
    const a = await connect(url);
    await a.request({ type: 'subscribe', topic: 't' });
    await hub.stop(AbortSignal.timeout(2_000));
    expect(await a.whenClosed()).toEqual({ code: 1001, reason: 'going away' });
    await expect(HubClient.connect(url)).rejects.toThrow();
    expect(lines.some((l) => l['msg'] === 'closing clients')).toBe(true);
  });
});

describe('the handle', () => {
  it('publishes and subscribes for other services, with the same checks', async () => {
    const { url, hub } = await startHub({ topics: { 'chat.*': { schema: './chat-message.json' } } });
    const handle = hub.handle();
    const seen: unknown[] = [];
    const off = handle.subscribe('irc.>', (m) => seen.push(m.data));
    const ws = await connect(url);
    await ws.request({ type: 'subscribe', topic: 'alerts' });
    const id = await handle.publish('alerts', { level: 'high' });
    expect(await ws.next((f) => f.type === 'message')).toMatchObject({ id, data: { level: 'high' } });
    await ws.request({ type: 'publish', topic: 'irc.ops', data: 'from ws' });
    expect(seen).toEqual(['from ws']);
    off();
    await ws.request({ type: 'publish', topic: 'irc.ops', data: 'after' });
    expect(seen).toEqual(['from ws']);
    await expect(handle.publish('a.*', 1)).rejects.toMatchObject({ code: 'HX_ERR_PUBSUB_REJECTED' });
    await expect(handle.publish('chat.x', { nope: 1 })).rejects.toMatchObject({ code: 'HX_ERR_PUBSUB_REJECTED' });
    // a listener that throws does not break delivery to others
    handle.subscribe('boom', () => {
      throw new Error('listener bug');
    });
    const other: Frame[] = [];
    handle.subscribe('boom', (m) => other.push(m as never));
    await handle.publish('boom', 1);
    expect(other).toHaveLength(1);
  });
});
