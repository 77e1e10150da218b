import { afterEach, describe, expect, it } from 'vitest';
import { HttpService } from '../http/service.js';
import { createTestContext as createHttpContext, FIXTURES as HTTP_FIXTURES } from '../../test/helpers/http/test-context.js';
import { startHub, useHubClients } from '../../test/helpers/pubsub/test-harness.js';
import type { HubClient } from '../../test/helpers/pubsub/test-client.js';
import { completeHandovers, setListenScope } from '../../src/net/listen-handover.js';

// the services of this file are one graph, as the orchestrator would run them: a second http
// service of one name is that service's replacement, promised the first one's socket
const graph = {};
setListenScope(() => graph);

const webs: HttpService[] = [];
afterEach(async () => {
  for (const web of webs.splice(0).reverse()) await web.stop(AbortSignal.timeout(2_000));
});
// after hooks run last-registered first: the hub's clients close before the http services stop
const connect = useHubClients();

/**
 * Starts an http service on 127.0.0.1:0. A second one of the same name takes over the first's
 * listening socket, as a reload's replacement does (src/net/listen-handover.ts); another name
 * listens on a port of its own.
 */
async function startWeb(name = 'web'): Promise<{ web: HttpService; http: string; ws: string }> {
  const web = new HttpService(createHttpContext({ app: `${HTTP_FIXTURES}node-listener.mjs` }, { name }));
  webs.push(web);
  await web.start(AbortSignal.timeout(5_000));
  const http = web.address() as string;
  return { web, http, ws: http.replace('http:', 'ws:') };
}

/** Publishes on `topic` and waits until every client has the message. */
async function reaches(publisher: HubClient, clients: readonly HubClient[], topic: string, data: unknown): Promise<void> {
  const ack = await publisher.request({ type: 'publish', topic, data });
  expect(ack).toMatchObject({ type: 'ack' });
  await Promise.all(clients.map((c) => c.next((f) => f.type === 'message' && f['topic'] === topic && f['id'] === ack['messageId'])));
}

describe('rebind', () => {
  it('moves to the new handle: open clients stay, new ones connect through the new server, the old one no longer takes the hub; and back on rollback', async () => {
    const first = await startWeb();
    const peers: Record<string, unknown> = { web: first.web.handle() };
    const { hub } = await startHub({ listen: undefined, attach: 'web', path: '/hub' }, { peers });
    const old = await connect(`${first.ws}/hub`);
    await old.request({ type: 'subscribe', topic: 'chat' });

    // on a port of its own, so that which server takes what can be told apart
    const second = await startWeb('web-next');
    peers['web'] = second.web.handle();
    await hub.rebind('web', AbortSignal.timeout(5_000));
    expect(hub.address()).toBe(`${second.ws}/hub`);
    const fresh = await connect(`${second.ws}/hub`);
    await fresh.request({ type: 'subscribe', topic: 'chat' });
    await reaches(old, [old, fresh], 'chat', 'from the old connection');
    await reaches(fresh, [old, fresh], 'chat', 'from the new one');
    // HTTP publish goes through the new server; the old server's requests go to its app again
    const posted = await fetch(`${second.http}/hub/publish/chat`, { method: 'POST', body: '"over http"' });
    expect(posted.status).toBe(202);
    await old.next((f) => f['data'] === 'over http');
    // without an upgrade listener the old server hands the request to its app (200)
    await expect(connect(`${first.ws}/hub`)).rejects.toThrow('refused: 200');
    expect(await (await fetch(`${first.http}/hub/publish/chat`, { method: 'POST', body: '1' })).text()).toBe('node POST /hub/publish/chat 1');

    // rolled back: the old handle is back in place and rebind is called again
    peers['web'] = first.web.handle();
    await hub.rebind('web', AbortSignal.timeout(5_000));
    const back = await connect(`${first.ws}/hub`);
    await back.request({ type: 'subscribe', topic: 'chat' });
    await expect(connect(`${second.ws}/hub`)).rejects.toThrow('refused: 200');
    await reaches(back, [old, fresh, back], 'chat', 'after the rollback');
    for (const client of [old, fresh, back]) {
      expect(client.closed).toBeUndefined();
      expect(client.frames.filter((f) => f.type === 'error')).toEqual([]);
    }
  });

  it('through a replacement that took over the listening socket: the old instance stops, its hub clients stay, new ones come through the same port', async () => {
    const first = await startWeb();
    const peers: Record<string, unknown> = { web: first.web.handle() };
    const { hub } = await startHub({ listen: undefined, attach: 'web', path: '/hub' }, { peers });
    const olds = await Promise.all(Array.from({ length: 10 }, () => connect(`${first.ws}/hub`)));
    await Promise.all(olds.map((c) => c.request({ type: 'subscribe', topic: 'chat' })));
    const second = await startWeb();
    expect(second.ws).toBe(first.ws);
    peers['web'] = second.web.handle();
    await hub.rebind('web', AbortSignal.timeout(5_000));
    // the reload commits: the socket moves, then the old instance drains
    completeHandovers(graph, 'web');
    await first.web.stop(AbortSignal.timeout(5_000));
    const fresh = await connect(`${second.ws}/hub`);
    await fresh.request({ type: 'subscribe', topic: 'chat' });
    await reaches(fresh, [...olds, fresh], 'chat', 'after the old http instance stopped');
    for (const client of [...olds, fresh]) expect(client.closed).toBeUndefined();
  });

  it('ignores a rebind of another peer, and refuses a new handle that is not an http service, staying where it was', async () => {
    const first = await startWeb();
    const peers: Record<string, unknown> = { web: first.web.handle(), other: {} };
    const { hub } = await startHub({ listen: undefined, attach: 'web', path: '/hub' }, { peers });
    await hub.rebind('other', AbortSignal.timeout(5_000));
    const client = await connect(`${first.ws}/hub`);
    peers['web'] = { publish() {} };
    await expect(hub.rebind('web', AbortSignal.timeout(5_000))).rejects.toMatchObject({ code: 'HX_ERR_PUBSUB_ATTACH', path: ['services', 'hub', 'attach'] });
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    expect((await connect(`${first.ws}/hub`)).closed).toBeUndefined();
  });
});
