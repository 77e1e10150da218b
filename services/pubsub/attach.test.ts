import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { HttpService } from '../http/service.js';
import { createTestContext as createHttpContext, FIXTURES as HTTP_FIXTURES } from '../../test/helpers/http/test-context.js';
import { TlsService } from '../tls/service.js';
import { createTlsContext } from '../../test/helpers/tls/test-harness.js';
import { startHub, stopHubs } from '../../test/helpers/pubsub/test-harness.js';
import { HubClient } from '../../test/helpers/pubsub/test-client.js';

const dir = useCertDir();
let ca: TestCert;
let site: TestCert;
const services: { stop(signal: AbortSignal): Promise<void> }[] = [];
const clients: HubClient[] = [];

beforeAll(async () => {
  ca = await createTestCa(dir);
  site = await createLeaf(dir, ca, { hosts: ['localhost'], name: 'site' });
}, 30_000);

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await stopHubs();
  for (const s of services.splice(0).reverse()) await s.stop(AbortSignal.timeout(2_000));
});

async function startWeb(): Promise<HttpService> {
  const web = new HttpService(createHttpContext({ app: `${HTTP_FIXTURES}node-listener.mjs` }));
  services.push(web);
  await web.start(AbortSignal.timeout(5_000));
  return web;
}

describe('a hub attached to an http service', () => {
  it('takes upgrades at its path; the app keeps every other request; HTTP publish works on the same port', async () => {
    const web = await startWeb();
    await startHub({ listen: undefined, attach: 'web', path: '/hub' }, { peers: { web: web.handle() } });
    const base = web.address() as string;
    const ws = base.replace('http:', 'ws:');
    const sub = await HubClient.connect(`${ws}/hub`);
    clients.push(sub);
    await sub.request({ type: 'subscribe', topic: 'news' });
    expect(await (await fetch(`${base}/page`)).text()).toBe('node GET /page 0');
    expect((await fetch(`${base}/hub`)).status).toBe(426);
    const posted = await fetch(`${base}/hub/publish/news`, { method: 'POST', body: '"extra"' });
    expect(posted.status).toBe(202);
    expect(await sub.next((f) => f.type === 'message')).toMatchObject({ topic: 'news', data: 'extra' });
    // an upgrade elsewhere is not the hub's
    await expect(HubClient.connect(`${ws}/other`)).rejects.toThrow('refused: 404');
  });

  it('answers on wss through every tls listener serving the http service (HTTP/1.1 and with http2 on)', async () => {
    const web = await startWeb();
    const { hub } = await startHub({ listen: undefined, attach: 'web', path: '/hub' }, { peers: { web: web.handle() } });
    for (const http2 of [false, true]) {
      const tls = new TlsService(createTlsContext({ cert: site.certFile, key: site.keyFile, http2 }, { baseDir: dir, peers: { web: web.handle() } }));
      services.push(tls);
      await tls.start(AbortSignal.timeout(5_000));
      const url = (tls.address() as string).replace('https:', 'wss:').replace('127.0.0.1', 'localhost');
      const a = await HubClient.connect(`${url}/hub`, { ca: ca.cert });
      const b = await HubClient.connect(`${url}/hub`, { ca: ca.cert });
      clients.push(a, b);
      await a.request({ type: 'subscribe', topic: 'secure.chat' });
      await b.request({ type: 'publish', topic: 'secure.chat', data: { http2 } });
      expect(await a.next((f) => f.type === 'message')).toMatchObject({ data: { http2 } });
    }
    // the hub closes its clients with 1001 even though they came through a tls listener
    const last = clients[clients.length - 1] as HubClient;
    await hub.stop(AbortSignal.timeout(2_000));
    expect((await last.whenClosed()).code).toBe(1001);
  });

  it('refuses to attach to a service that is not http', async () => {
    const error = await startHub({ listen: undefined, attach: 'web' }, { peers: { web: { publish() {} } } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'HX_ERR_PUBSUB_ATTACH', path: ['services', 'hub', 'attach'] });
  });
});
