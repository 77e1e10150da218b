import type { ClientOptions } from 'ws';
import { HubClient } from '../pubsub/test-client.js';

/** A crowd of hub clients subscribed to one topic. */
export interface Subscribers {
  readonly clients: readonly HubClient[];
  /** The message ids each client received on the topic, in order. */
  ids(): string[][];
  /** Waits (generously) until every client has received message `id`. */
  waitFor(id: string, timeoutMs?: number): Promise<void>;
  /** The clients that were closed, with their codes. */
  closes(): string[];
  /** Frames other than messages and acks (an `error` such as `revoked` or `unauthorized`). */
  unexpected(): string[];
  close(): void;
}

/** Connects `count` clients to each URL of `urls` (in turn) and subscribes them all to `topic`. */
export async function subscribeCrowd(urls: readonly { url: string; options?: ClientOptions }[], count: number, topic: string): Promise<Subscribers> {
  const clients = await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const target = urls[i % urls.length] as { url: string; options?: ClientOptions };
      return HubClient.connect(target.url, target.options);
    }),
  );
  const acks = await Promise.all(clients.map((c) => c.request({ type: 'subscribe', topic })));
  const refused = acks.filter((a) => a.type !== 'ack');
  if (refused.length > 0) throw new Error(`subscriptions refused: ${JSON.stringify(refused[0])}`);
  const ids = (c: HubClient): string[] => c.messages(topic).map((m) => String(m['id']));
  return {
    clients,
    ids: () => clients.map(ids),
    async waitFor(id, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const missing = clients.filter((c) => !ids(c).includes(id)).length;
        if (missing === 0) return;
        if (Date.now() > deadline) {
          const closed = clients.filter((c) => c.closed !== undefined).map((c) => c.closed?.code);
          throw new Error(`${missing} of ${clients.length} clients did not receive ${id}; ${closed.length} closed (codes ${[...new Set(closed)].join(', ')})`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    closes: () => clients.flatMap((c, i) => (c.closed ? [`client ${i}: ${c.closed.code} ${c.closed.reason}`] : [])),
    unexpected: () =>
      clients.flatMap((c, i) => c.frames.filter((f) => f.type !== 'message' && f.type !== 'ack').map((f) => `client ${i}: ${JSON.stringify(f)}`)),
    close: () => clients.forEach((c) => c.close()),
  };
}
