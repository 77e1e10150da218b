import { afterEach, describe, expect, it } from 'vitest';
import type { CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import type { HubClient } from '../helpers/pubsub/test-client.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { needCommand } from '../helpers/system-command.js';
import { pidApp, startGraph } from '../helpers/workers.js';
import { clientsOn, idsOf, publishOn, waitForId } from '../helpers/workers-hub.js';

// The Redis backplane with workers: two instances of `hendrix up` (two "machines"), each with
// `workers: 2`, share one Redis. Each worker's hub is a Redis node, so a message published on
// any of the four workers reaches subscribers on all four once, with the same id, in one order.

const running: CliProcess[] = [];
const clients: HubClient[] = [];
let redis: RedisServer | undefined;
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const p of running.splice(0)) {
    if (p.process.exitCode !== null || p.process.signalCode !== null) continue;
    p.process.kill('SIGTERM');
    await p.exited();
  }
  await redis?.stop();
  redis = undefined;
});
const makeDir = useManifestDirs();

const manifest = (url: string): string => `workers: 2
services:
  web: { kind: http, listen: 127.0.0.1:0, app: ./app.mjs }
  hub:
    kind: pubsub
    attach: web
    path: /hub
    backplane: ${url}
    topics:
      ticks: { history: 1000 }
`;

describe.runIf(needCommand('redis-server'))('the Redis backplane with workers', () => {
  it('two instances with 2 workers each on one Redis: a publish on any worker reaches all four workers once, same ids, one order', async () => {
    redis = await startRedisServer();
    const one = await startGraph(makeDir({ 'hendrix.yaml': manifest(redis.url), 'app.mjs': pidApp('one') }), [], running);
    const two = await startGraph(makeDir({ 'hendrix.yaml': manifest(redis.url), 'app.mjs': pidApp('two') }), [], running);
    const placed = [...(await clientsOn(one.url, one.pids, 2)), ...(await clientsOn(two.url, two.pids, 2))];
    const subscribers = placed.flatMap(([, list]) => list);
    clients.push(...subscribers);
    expect(placed.map(([pid]) => pid)).toHaveLength(4);
    for (const ack of await Promise.all(subscribers.map((c) => c.request({ type: 'subscribe', topic: 'ticks' })))) expect(ack).toMatchObject({ type: 'ack' });

    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      for (const [graph, pid] of [...one.pids.map((p) => [one, p] as const), ...two.pids.map((p) => [two, p] as const)]) {
        ids.push(await publishOn(graph.url, pid, 'ticks', { n, pid }));
      }
    }
    const last = ids.reduce((a, b) => (Number(a.split(':').pop()) > Number(b.split(':').pop()) ? a : b));
    for (const c of subscribers) await waitForId(c, 'ticks', last);
    const order = idsOf(subscribers[0]!, 'ticks');
    expect(new Set(order)).toEqual(new Set(ids));
    expect(order).toHaveLength(ids.length);
    for (const c of subscribers) expect(idsOf(c, 'ticks')).toEqual(order);
  }, 40_000);
});
