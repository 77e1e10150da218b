import { describe, expect, it } from 'vitest';
import { figure, figureProblems } from '../../test/helpers/figures.js';
import { until } from '../../test/helpers/http/test-client.js';
import { startHub, useHubClients } from '../../test/helpers/pubsub/test-harness.js';
import type { PubsubService } from './service.js';

const connect = useHubClients();

const now = (hub: PubsubService): Record<string, number> =>
  Object.fromEntries(['connections', 'subscriptions', 'messages_total', 'deliveries_total', 'drops_total'].map((name) => [name, figure(hub, `pubsub_${name}`)]));

describe('pubsub figures', () => {
  it('counts clients and subscriptions now, and every message published once and each delivery', async () => {
    const { hub, url } = await startHub();
    expect(figureProblems(hub, ['pubsub'])).toEqual([]);
    expect(now(hub)).toEqual({ connections: 0, subscriptions: 0, messages_total: 0, deliveries_total: 0, drops_total: 0 });

    const a = await connect(url);
    const b = await connect(url);
    expect((await a.request({ type: 'subscribe', topic: 'news.*' })).type).toBe('ack');
    expect((await a.request({ type: 'subscribe', topic: 'alerts' })).type).toBe('ack');
    expect((await b.request({ type: 'subscribe', topic: 'news.sport' })).type).toBe('ack');
    const heard: string[] = [];
    const unsubscribe = hub.handle().subscribe('news.>', (message) => heard.push(message.topic));
    expect(now(hub)).toMatchObject({ connections: 2, subscriptions: 4 });

    // news.sport reaches a, b and the listener; alerts reaches a; news.tech reaches a and the listener
    expect((await b.request({ type: 'publish', topic: 'news.sport', data: 1 })).type).toBe('ack');
    expect((await b.request({ type: 'publish', topic: 'alerts', data: 2 })).type).toBe('ack');
    await hub.handle().publish('news.tech', 3);
    await a.next((f) => f.type === 'message' && f['topic'] === 'news.tech');
    expect(now(hub)).toMatchObject({ messages_total: 3, deliveries_total: 6, drops_total: 0 });
    expect(heard).toEqual(['news.sport', 'news.tech']);

    // a refused publish is no message
    expect((await b.request({ type: 'publish', topic: 'bad..topic', data: 4 })).type).toBe('error');
    expect(figure(hub, 'pubsub_messages_total')).toBe(3);

    unsubscribe();
    b.close();
    await until(() => figure(hub, 'pubsub_connections') === 1);
    expect(figure(hub, 'pubsub_subscriptions')).toBe(2);
  });

  it('counts the messages dropped for a client that does not read (slowConsumer: drop)', async () => {
    const { hub, url } = await startHub({ maxBuffered: '16kb', slowConsumer: 'drop' });
    const slow = await connect(url);
    await slow.request({ type: 'subscribe', topic: 'flood' });
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const pub = await connect(url);
    // the kernel's socket buffers take a few megabytes before the hub's own buffer grows
    let sent = 0;
    while (figure(hub, 'pubsub_drops_total') === 0 && sent < 5_000) {
      for (let i = 0; i < 50; i++, sent++) pub.send({ type: 'publish', topic: 'flood', data: 'z'.repeat(4_000) });
      await pub.request({ type: 'ping' });
    }
    const drops = figure(hub, 'pubsub_drops_total');
    expect(drops).toBeGreaterThan(0);
    expect(drops).toBe(hub.handle().stats().dropped);
    await until(() => figure(hub, 'pubsub_messages_total') === sent);
    // every message was either delivered to the slow client or dropped for it
    expect(figure(hub, 'pubsub_deliveries_total') + figure(hub, 'pubsub_drops_total')).toBe(sent);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  });
});
