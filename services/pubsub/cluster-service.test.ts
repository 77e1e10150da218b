import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterLink, ServiceContext } from '../../src/kinds/contract.js';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { createContractContext } from '../../src/testing/index.js';
import { createLocalCluster } from '../../test/helpers/cluster-bus.js';
import { createTestContext as createHttpContext, FIXTURES as HTTP_FIXTURES } from '../../test/helpers/http/test-context.js';
import { nodeRequest } from '../../test/helpers/http/test-client.js';
import { createClusterHubs, until } from '../../test/helpers/pubsub/cluster-hubs.js';
import { HubClient } from '../../test/helpers/pubsub/test-client.js';
import { HttpService } from '../http/service.js';
import type { HubMessage } from './handle.js';
import { pubsubKind } from './kind.js';
import { PubsubStandIn } from './remote.js';
import type { PubsubConfig } from './schema.js';
import { PubsubService } from './service.js';

// Hub services in fake worker processes (ctx.cluster from the in-process cluster bus), with
// real WebSocket clients; the stand-in a once-service (an IRC relay) gets in its own process.

const TOPICS = { topics: { 'room.>': { history: 100 } } };
let cluster: ReturnType<typeof createClusterHubs> | undefined;
const services: { stop(signal: AbortSignal): Promise<void> }[] = [];
const clients: HubClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  for (const service of services.splice(0)) await service.stop(AbortSignal.timeout(2_000));
  await cluster?.close();
  cluster = undefined;
});

/** A hub config (listening on 127.0.0.1:0) in a context whose `cluster` is `link`. */
function contextIn(link: ClusterLink | undefined, partial: Record<string, unknown> = {}): ServiceContext<PubsubConfig> {
  const ctx = createContractContext(pubsubKind, { listen: '127.0.0.1:0', ...TOPICS, ...partial }, { name: 'hub' });
  return { ...ctx, cluster: link } as unknown as ServiceContext<PubsubConfig>;
}

/** Starts the hub service in process `key` of the cluster; returns it with its WebSocket URL. */
async function worker(key: string): Promise<{ service: PubsubService; url: string }> {
  const c = (cluster ??= createClusterHubs());
  const service = new PubsubService(contextIn(c.link(key)));
  services.push(service);
  await service.start(AbortSignal.timeout(10_000));
  return { service, url: service.address() ?? '' };
}

async function connect(url: string): Promise<HubClient> {
  const client = await HubClient.connect(url);
  clients.push(client);
  return client;
}

describe('the hub service in worker processes', () => {
  it('gives a client of one worker what a client of another published, with the same id', async () => {
    const one = await worker('w1');
    const two = await worker('w2');
    const reader = await connect(one.url);
    const writer = await connect(two.url);
    await reader.request({ type: 'subscribe', topic: 'room.1' });
    await writer.request({ type: 'subscribe', topic: 'room.1' });
    const ack = await writer.request({ type: 'publish', topic: 'room.1', data: { text: 'hi' } });
    const [got, echo] = await Promise.all([reader.next((f) => f.type === 'message'), writer.next((f) => f.type === 'message')]);
    expect(got).toEqual({ type: 'message', topic: 'room.1', id: ack['messageId'], data: { text: 'hi' }, ts: expect.any(Number) });
    expect(echo).toEqual(got);
    expect(String(ack['messageId'])).toBe(`${cluster?.coordinator().epoch}:1`);
  });

  it('closes clients with 1012 when the worker is retired, and they resume with since on another worker', async () => {
    const one = await worker('w1');
    const two = await worker('w2');
    const client = await connect(one.url);
    const other = await connect(two.url);
    await client.request({ type: 'subscribe', topic: 'room.1' });
    await other.request({ type: 'publish', topic: 'room.1', data: 1 });
    const last = await client.next((f) => f.type === 'message');
    cluster?.channels('w1').retire();
    await one.service.stop(AbortSignal.timeout(5_000));
    expect(await client.whenClosed()).toEqual({ code: 1012, reason: 'service restart' });
    expect(other.closed).toBeUndefined();
    await other.request({ type: 'publish', topic: 'room.1', data: 2 });
    const again = await connect(two.url);
    const ack = await again.request({ type: 'subscribe', topic: 'room.1', since: last['id'] });
    expect(ack).toMatchObject({ type: 'ack', replayed: 1 });
    expect(ack['lost']).toBeUndefined();
    expect(again.messages('room.1').map((m) => m['data'])).toEqual([2]);
    // a worker that is not retired says it goes away
    await two.service.stop(AbortSignal.timeout(5_000));
    expect((await other.whenClosed()).code).toBe(1001);
  });

  it('keeps its path on the http service when retired: publishes and upgrades get 503 with Connection: close, never the app', async () => {
    const web = new HttpService(createHttpContext({ app: `${HTTP_FIXTURES}node-listener.mjs` }));
    await web.start(AbortSignal.timeout(5_000));
    try {
      const c = (cluster ??= createClusterHubs());
      const ctx = createContractContext(pubsubKind, { attach: 'web', ...TOPICS }, { name: 'hub', peers: { web: web.handle() } });
      const hub = new PubsubService({ ...ctx, cluster: c.link('w1') } as unknown as ServiceContext<PubsubConfig>);
      services.push(hub);
      await hub.start(AbortSignal.timeout(10_000));
      const base = web.address() as string;
      const publish = (): ReturnType<typeof nodeRequest> => nodeRequest(`${base}/hub/publish/room.1`, { method: 'POST', body: '1' });
      expect((await publish()).status).toBe(202);
      c.channels('w1').retire();
      await hub.stop(AbortSignal.timeout(5_000));
      // the http service drains after the hub: until then the hub's path is still the hub's
      const refused = await publish();
      expect(refused.status).toBe(503);
      expect(refused.headers.connection).toBe('close');
      expect(JSON.parse(refused.body)).toMatchObject({ error: 'unavailable' });
      await expect(HubClient.connect(`${base.replace('http:', 'ws:')}/hub`)).rejects.toThrow('refused: 503');
      expect((await nodeRequest(`${base}/page`)).body).toBe('node GET /page 0');
    } finally {
      await web.stop(AbortSignal.timeout(5_000));
    }
  });

  it('gives a once-service a stand-in whose handle publishes into and receives from the one hub', async () => {
    const one = await worker('w1');
    const c = cluster as NonNullable<typeof cluster>;
    const standIn = new PubsubStandIn(contextIn(c.link('once', 'once'), { listen: undefined, attach: 'web' }));
    services.push(standIn);
    await standIn.start(AbortSignal.timeout(10_000));
    const handle = standIn.handle();
    const relayed: HubMessage[] = [];
    const off = handle.subscribe('alerts.>', (message) => relayed.push(message));
    const client = await connect(one.url);
    await client.request({ type: 'subscribe', topic: 'alerts.>' });
    const ack = await client.request({ type: 'publish', topic: 'alerts.disk', data: { free: '2%' } });
    await until(() => relayed.length === 1, 'the stand-in received the client publish');
    expect(relayed[0]).toEqual({ topic: 'alerts.disk', id: ack['messageId'], data: { free: '2%' }, ts: expect.any(Number) });
    const id = await handle.publish('alerts.irc', { from: 'bot' });
    const message = await client.next((f) => f.type === 'message' && f['topic'] === 'alerts.irc');
    expect(message).toMatchObject({ id, data: { from: 'bot' } });
    expect(id).toBe(`${c.coordinator().epoch}:1`); // its own topic's first id, in the hub's one epoch
    await expect(handle.publish('alerts.*', 1)).rejects.toMatchObject({ code: 'HX_ERR_PUBSUB_REJECTED' });
    off();
    await standIn.stop();
    await expect(handle.publish('alerts.irc', 2)).rejects.toMatchObject({ code: 'HX_ERR_PUBSUB_REJECTED' });
  });

  it('is placed in each worker when attached, once on its own port; has a coordinator unless on Redis', async () => {
    const workers = pubsubKind.workers;
    const config = (partial: Record<string, unknown>) => contextIn(undefined, partial).config as never;
    const runs = workers?.runs as (c: unknown) => string;
    expect(runs(config({ listen: undefined, attach: 'web' }))).toBe('each');
    expect(runs(config({}))).toBe('once');
    expect(await workers?.coordinator?.(config({}))).toBeTypeOf('function');
    expect(await workers?.coordinator?.(config({ backplane: 'redis://127.0.0.1:6379' }))).toBeUndefined();
    expect(await workers?.remote?.(contextIn(undefined) as never)).toBeInstanceOf(PubsubStandIn);
  });

  it('fails the start with HX_ERR_PUBSUB_CLUSTER when the primary never welcomes it', async () => {
    // a cluster whose primary has no coordinator for the hub: the channel is never answered
    const bus = createLocalCluster(createSilentLogger());
    const link = bus.process('w1', { id: 1, role: 'each', count: 2 }).link('hub');
    const service = new PubsubService(contextIn(link, { startTimeout: '500ms' }));
    services.push(service);
    const failed = await service.start(AbortSignal.timeout(10_000)).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(HendrixError);
    expect(failed).toMatchObject({ code: 'HX_ERR_PUBSUB_CLUSTER', path: ['services', 'hub', 'backplane'] });
    expect(String((failed as Error).message)).toMatch(/did not welcome/);
  });
});
