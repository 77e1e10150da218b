import { Agent } from 'node:https';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { startTlsService, startWeb, stopTls } from '../../test/helpers/tls/test-harness.js';
import { h2Get, h2Session, httpsGet, plainGet } from '../../test/helpers/tls/test-client.js';
import { cancelHandovers, completeHandovers, setListenScope } from '../../src/net/listen-handover.js';

// both instances belong to one graph (the orchestrator says so in a real run): sockets are handed over only within one
const graph = {};
const SERVICE = 'secure';
setListenScope(() => graph);

const dir = useCertDir();
let ca: TestCert;
let first: TestCert;
let second: TestCert;

beforeAll(async () => {
  ca = await createTestCa(dir);
  [first, second] = await Promise.all([createLeaf(dir, ca, { hosts: ['localhost'], name: 'first' }), createLeaf(dir, ca, { hosts: ['localhost'], name: 'second' })]);
}, 30_000);

afterEach(stopTls);

const signal = (): AbortSignal => AbortSignal.timeout(10_000);

async function until(check: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Two instances of service `secure` on the same configured addresses: a service and its replacement. */
async function startPair(next: Record<string, unknown> = {}, commit = true) {
  const web = await startWeb();
  const peers = { web: web.handle() };
  const config = { cert: first.certFile, key: first.keyFile, redirect: { listen: '127.0.0.1:0' } };
  const old = await startTlsService(config, { baseDir: dir, peers });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const open = await httpsGet({ port: old.port, ca: ca.cert, servername: 'localhost', agent });
  const replacement = await startTlsService(
    { ...config, cert: second.certFile, key: second.keyFile, redirect: { listen: '127.0.0.1:0', status: 301 }, ...next },
    { baseDir: dir, peers },
  );
  // what the orchestrator does when the reload commits: the sockets move to the replacement
  if (commit) completeHandovers(graph, SERVICE);
  return { old, replacement, agent, open };
}

describe('a replacing instance takes the listening sockets over', () => {
  it('listens on both of the running instance’s sockets; the old one keeps its connections until it stops, then the new one serves on', async () => {
    const { old, replacement, agent, open } = await startPair();
    try {
      expect(open.serverCN).toBe('first');
      let closed = false;
      open.socket.once('close', () => (closed = true));
      expect(replacement.port).toBe(old.port);
      expect(replacement.redirectPort).toBe(old.redirectPort);
      // new connections, on both listeners, reach the new instance
      expect((await httpsGet({ port: old.port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('second');
      expect((await plainGet(old.redirectPort as number)).status).toBe(301);
      // the old instance's connection is still its own
      const again = await httpsGet({ port: old.port, ca: ca.cert, servername: 'localhost', agent });
      expect(again.socket).toBe(open.socket);
      expect(again.serverCN).toBe('first');

      await old.tls.stop(signal());
      await until(() => closed); // its drain closed the idle keep-alive connection
      expect((await httpsGet({ port: old.port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('second');
      expect((await plainGet(old.redirectPort as number)).status).toBe(301);
    } finally {
      agent.destroy();
    }
  });

  it('a reload rolled back before its commit: the old instance keeps both sockets, the new one never serves', async () => {
    const { old, replacement, agent } = await startPair({}, false);
    try {
      expect(replacement.port).toBe(old.port);
      expect((await httpsGet({ port: old.port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('first');
      cancelHandovers(graph, SERVICE);
      await replacement.tls.stop(signal());
      expect((await httpsGet({ port: old.port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('first');
      expect((await plainGet(old.redirectPort as number)).status).toBe(308);
    } finally {
      agent.destroy();
    }
  });

  it('turns http2 on by replacement: the old HTTP/1.1 connection stays, new clients negotiate h2 on the same port', async () => {
    const { old, replacement, agent, open } = await startPair({ http2: true });
    try {
      expect(replacement.port).toBe(old.port);
      const session = await h2Session({ port: old.port, ca: ca.cert, servername: 'localhost' });
      const h2 = await h2Get(session, '/h2').finally(() => session.close());
      expect(JSON.parse(h2.body)).toMatchObject({ path: '/h2', httpVersion: '2.0' });
      const again = await httpsGet({ port: old.port, ca: ca.cert, servername: 'localhost', agent });
      expect(again.socket).toBe(open.socket);
      expect(again.json()).toMatchObject({ httpVersion: '1.1' });
    } finally {
      agent.destroy();
    }
  });
});
