import { request, Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../helpers/http/test-context.js';
import { startHub, useHubClients } from '../helpers/pubsub/test-harness.js';

// What a client sends cannot make the hub misreport its history (issue #13): data nested
// 10,000 levels deep is refused as invalid data without consuming an id, a topic the hub
// forgot answers `since` with `lost` (never with wrong messages), a client over its publish
// rate gets error frames then 1008, and each limit is logged once, not per message.

const connect = useHubClients();

const seqOf = (id: unknown): number => Number(String(id).split(':')[1]);
const deepText = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

/** POSTs `body` to `url` on `agent`'s connection; resolves with the status and the JSON answer. */
function post(url: string, body: string, agent?: Agent): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, ...(agent ? { agent } : {}) }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += String(chunk)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('data nested 10,000 levels deep', () => {
  it('is refused as invalid_data (WebSocket), 400 (HTTP) and by the handle, and consumes no id: the next since reports no loss', async () => {
    const { url, port, hub } = await startHub({ topics: { 'deep.*': { history: 10 } } });
    const client = await connect(url);
    const before = await client.request({ type: 'publish', topic: 'deep.x', data: 'before' });
    expect(before).toMatchObject({ type: 'ack' });

    client.send(`{"type":"publish","topic":"deep.x","id":"deep","data":${deepText(10_000)}}`);
    expect(await client.next((f) => f['id'] === 'deep')).toMatchObject({ type: 'error', code: 'invalid_data' });
    const http = await post(`http://127.0.0.1:${port}/hub/publish/deep.x`, deepText(10_000));
    expect(http).toMatchObject({ status: 400, body: { error: 'invalid_data' } });
    let deep: unknown[] = [];
    for (let i = 0; i < 10_000; i++) deep = [deep];
    await expect(hub.handle().publish('deep.x', deep)).rejects.toMatchObject({ code: 'HX_ERR_PUBSUB_REJECTED', message: expect.stringContaining('invalid_data') });
    // nesting up to the limit is fine
    expect(await client.request({ type: 'publish', topic: 'deep.y', data: JSON.parse(deepText(128)) })).toMatchObject({ type: 'ack' });

    const after = await client.request({ type: 'publish', topic: 'deep.x', data: 'after' });
    expect(seqOf(after['messageId'])).toBe(seqOf(before['messageId']) + 1);
    const late = await connect(url);
    const ack = await late.request({ type: 'subscribe', topic: 'deep.x', since: before['messageId'] });
    expect(ack).toEqual({ type: 'ack', id: ack['id'], replayed: 1 });
    expect(late.messages('deep.x').map((m) => m['data'])).toEqual(['after']);
    expect(hub.handle().stats().connections).toBe(2); // nothing crashed
  });
});

describe('since on a topic the hub forgot', () => {
  it('says lost for the forgotten topic, replays the others exactly, and never reuses an id', async () => {
    const { url } = await startHub({ topics: { 'r.*': { history: 10 } }, limits: { topics: 3 } });
    const client = await connect(url);
    const pub = async (topic: string, data: unknown): Promise<string> => String((await client.request({ type: 'publish', topic, data }))['messageId']);
    const a1 = await pub('r.a', 'a1');
    const a2 = await pub('r.a', 'a2');
    const b1 = await pub('r.b', 'b1');
    const b2 = await pub('r.b', 'b2');
    await pub('r.c', 'c1');
    await pub('r.d', 'd1'); // a fourth topic: r.a, the least recently published, is forgotten

    const reader = await connect(url);
    expect(await reader.request({ type: 'subscribe', topic: 'r.a', since: a1 })).toMatchObject({ type: 'ack', replayed: 0, lost: 'epoch' });
    expect(await reader.request({ type: 'subscribe', topic: 'r.b', since: b1 })).toEqual(expect.not.objectContaining({ lost: expect.anything() }));
    expect(reader.messages('r.b').map((m) => m['data'])).toEqual(['b2']);
    const exact = await reader.request({ type: 'subscribe', topic: 'r.b', since: b2 });
    expect(exact).toMatchObject({ type: 'ack', replayed: 0 });
    expect(exact['lost']).toBeUndefined();

    // r.a comes back (r.b is forgotten now): its ids continue above the old ones
    const a3 = await pub('r.a', 'a3');
    expect(seqOf(a3)).toBeGreaterThan(seqOf(a2));
    const again = await connect(url);
    // from its last id: exactly what came after; from an older one: what is kept, and maybe lost
    const fromLast = await again.request({ type: 'subscribe', topic: 'r.a', since: a2 });
    expect(fromLast).toMatchObject({ type: 'ack', replayed: 1 });
    expect(fromLast['lost']).toBeUndefined();
    const other = await connect(url);
    expect(await other.request({ type: 'subscribe', topic: 'r.a', since: a1 })).toMatchObject({ type: 'ack', replayed: 1, lost: 'epoch' });
    expect(other.messages('r.a').map((m) => m['data'])).toEqual(['a3']);
  });
});

describe('limits.publishRate', () => {
  it('answers a WebSocket client over its rate with rate_limited error frames, then closes it with 1008', async () => {
    const { url } = await startHub({ limits: { publishRate: 10, publishBurst: 20 } });
    const flooder = await connect(url);
    for (let i = 0; i < 300; i++) flooder.send({ type: 'publish', topic: 'flood', data: i, id: i });
    expect(await flooder.whenClosed(10_000)).toEqual({ code: 1008, reason: 'publish rate exceeded' });
    const acks = flooder.frames.filter((f) => f.type === 'ack');
    const refused = flooder.frames.filter((f) => f.type === 'error');
    expect(acks.length).toBeGreaterThanOrEqual(20);
    expect(acks.length).toBeLessThan(40);
    expect(refused.length).toBeGreaterThan(100);
    expect(refused.every((f) => f['code'] === 'rate_limited')).toBe(true);
    // the first refusal comes right after the burst, in request order
    expect(flooder.frames[acks.length]).toMatchObject({ type: 'error', code: 'rate_limited', id: acks.length });
  });

  it('answers HTTP publishes over the rate of their connection with 429', async () => {
    const { port } = await startHub({ limits: { publishRate: 1, publishBurst: 3 } });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await post(`http://127.0.0.1:${port}/hub/publish/http.flood`, String(i), agent)).status);
      expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
      expect(statuses).toContain(429);
    } finally {
      agent.destroy();
    }
  });
});

describe('limits are logged once, not per message', () => {
  it('warns once per limit while it keeps biting', async () => {
    const { log, lines } = createCapturingLogger();
    const { url } = await startHub({ topics: { 'l.*': { history: 100 } }, limits: { topics: 5, historyBytes: '16kb', publishRate: 100, publishBurst: 200 } }, { log });
    const client = await connect(url);
    // new topics (over limits.topics) and a busy one that keeps history (over limits.historyBytes)
    for (let i = 0; i < 400; i++) client.send({ type: 'publish', topic: i % 2 === 0 ? `l.t${i % 50}` : 'l.busy', data: 'm'.repeat(1_000), id: i });
    await client.whenClosed(10_000); // the rate limit closes it in the end
    const warned = (limit: string) => lines.filter((l) => l['msg'] === 'hub limit reached' && l['limit'] === limit);
    expect(warned('limits.topics')).toHaveLength(1);
    expect(warned('limits.historyBytes')).toHaveLength(1);
    expect(warned('limits.publishRate')).toHaveLength(1);
    expect(warned('limits.topics')[0]).toMatchObject({ level: 40, value: 5 });
    expect(lines.filter((l) => l['level'] === 40)).toHaveLength(3);
  });
});
