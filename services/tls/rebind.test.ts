import { Agent } from 'node:https';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { HttpService } from '../http/service.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { startTlsService, startWeb, stopTls, TLS_FIXTURES } from '../../test/helpers/tls/test-harness.js';
import { httpsGet } from '../../test/helpers/tls/test-client.js';
import { AcmeChallenges } from './acme-challenges.js';
import { ServedApp } from './served-app.js';

const dir = useCertDir();
let ca: TestCert;
let site: TestCert;

beforeAll(async () => {
  ca = await createTestCa(dir);
  site = await createLeaf(dir, ca, { hosts: ['localhost'], name: 'site' });
}, 30_000);

afterEach(stopTls);

const signal = (): AbortSignal => AbortSignal.timeout(10_000);
const held = (): (() => void)[] => ((globalThis as { hendrixHeld?: (() => void)[] }).hendrixHeld ??= []);

async function until(check: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Echoes WebSocket messages prefixed with `label` on `web`'s /ws upgrades. */
function echoOn(web: HttpService, label: string): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`${label} ${String(data)}`)));
  web.handle().onUpgrade((req, socket, head) => {
    if (req.url !== '/ws') return false;
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    return true;
  });
  return wss;
}

/** Sends `text` on an open WebSocket and resolves with the reply. */
function ask(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
    ws.send(text);
  });
}

function openWs(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://localhost:${port}/ws`, { ca: ca.cert });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('rebind to a new instance of the served http service', () => {
  it('serves the next request on an open connection with the new app; a request in flight finishes on the old one', async () => {
    const oldWeb = await startWeb(`${TLS_FIXTURES}held-app.mjs`);
    const peers: Record<string, unknown> = { web: oldWeb.handle() };
    const { tls, port } = await startTlsService({ cert: site.certFile, key: site.keyFile, hsts: true }, { baseDir: dir, peers });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
      expect(before.json()).toMatchObject({ app: 'held' });
      const closed = { value: false };
      before.socket.once('close', () => (closed.value = true));
      held().length = 0;
      const inFlight = httpsGet({ port, ca: ca.cert, servername: 'localhost', path: '/hold' });
      await until(() => held().length === 1);

      const newWeb = await startWeb(`${TLS_FIXTURES}other-app.mjs`, { keepAliveTimeout: '7s' });
      peers['web'] = newWeb.handle();
      await tls.rebind('web', signal());
      const after = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent, path: '/after' });
      expect(after.socket).toBe(before.socket);
      expect(after.json()).toMatchObject({ app: 'other', path: '/after' });
      expect(after.headers['strict-transport-security']).toMatch(/^max-age=/);
      expect(closed.value).toBe(false);
      // the new service's limits apply to the listener's next connections
      expect((tls.handle().server as unknown as { keepAliveTimeout: number }).keepAliveTimeout).toBe(7_000);

      held()[0]?.();
      expect((await inFlight).json()).toMatchObject({ app: 'held', path: '/hold' });

      // a rollback rebinds the same way, with the old handle back in place
      peers['web'] = oldWeb.handle();
      await tls.rebind('web', signal());
      expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent })).json()).toMatchObject({ app: 'held' });
    } finally {
      agent.destroy();
    }
  });

  it('moves the upgrade routing: an open WebSocket stays with the old service, new ones reach the new one, and a stop leaves the old ones to their owner', async () => {
    const oldWeb = await startWeb();
    const newWeb = await startWeb(`${TLS_FIXTURES}other-app.mjs`);
    const servers = [echoOn(oldWeb, 'old'), echoOn(newWeb, 'new')];
    const peers: Record<string, unknown> = { web: oldWeb.handle() };
    const { tls, port } = await startTlsService({ cert: site.certFile, key: site.keyFile }, { baseDir: dir, peers });
    const first = await openWs(port);
    let firstClosed = false;
    first.once('close', () => (firstClosed = true));
    expect(await ask(first, 'hi')).toBe('old hi');

    peers['web'] = newWeb.handle();
    await tls.rebind('web', signal());
    const second = await openWs(port);
    expect(await ask(second, 'hi')).toBe('new hi');
    expect(await ask(first, 'again')).toBe('old again');

    // upgraded sockets are their handlers' to close (the hub's 1001), whichever service took them
    await tls.stop(signal());
    expect(firstClosed).toBe(false);
    expect(await ask(first, 'still')).toBe('old still');
    expect(await ask(second, 'still')).toBe('new still');
    first.terminate();
    second.terminate();
    for (const wss of servers) wss.close();
  });

  it('moves the ACME challenge interceptor to the new service', async () => {
    const oldWeb = await startWeb();
    const newWeb = await startWeb(`${TLS_FIXTURES}other-app.mjs`);
    const probe = async (web: HttpService): Promise<number> => (await fetch(`${web.handle().url}/.well-known/acme-challenge/none`)).status;
    const served = new ServedApp(oldWeb.handle(), undefined);
    served.setChallenges(new AcmeChallenges());
    // 404: the challenge responder answered (no such token); 200: the app did
    expect([await probe(oldWeb), await probe(newWeb)]).toEqual([404, 200]);
    served.rebind(newWeb.handle(), undefined);
    expect([await probe(oldWeb), await probe(newWeb)]).toEqual([200, 404]);
    served.detach();
    expect([await probe(oldWeb), await probe(newWeb)]).toEqual([200, 200]);
  });
});
