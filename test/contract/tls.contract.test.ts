import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { httpKind } from '../../services/http/kind.js';
import { FIXTURES } from '../../services/http/test-context.js';
import type { Service } from '../../src/runtime/contract.js';
import { tlsKind } from '../../services/tls/kind.js';
import { httpsGet } from '../../services/tls/test-client.js';
import { createContractContext, describeServiceContract } from './service-contract.js';

/** Ports held for failingConfig(), the served http service, and the state folder. */
const blockers: Server[] = [];
let web: Service | undefined;
const stateDir = mkdtempSync(join(tmpdir(), 'hendrix-tls-contract-'));

function portOf(address: string | undefined): number {
  if (address === undefined) throw new Error('the service reported no address');
  return Number(new URL(address).port);
}

describeServiceContract({
  kind: tlsKind,
  name: 'secure',
  baseDir: FIXTURES,
  async setup() {
    web = await httpKind.create(createContractContext(httpKind, { listen: '127.0.0.1:0', app: './fetch-stream.mjs', keepAliveTimeout: '30s' }, { name: 'web', baseDir: FIXTURES }));
    await web.start(AbortSignal.timeout(10_000));
    return { web: web.handle!() };
  },
  goodConfig: () => ({ listen: '127.0.0.1:0', serves: 'web', selfSigned: true, stateDir, watch: false }),
  async failingConfig() {
    const blocker = createServer();
    blockers.push(blocker);
    await new Promise<void>((listening) => blocker.listen(0, '127.0.0.1', listening));
    const { port } = blocker.address() as { port: number };
    return { listen: `127.0.0.1:${port}`, serves: 'web', selfSigned: true, stateDir, watch: false };
  },
  failingCode: 'HX_ERR_LISTEN',
  async probe(_service, address) {
    const res = await httpsGet({ port: portOf(address), path: '/ping', rejectUnauthorized: false, servername: 'localhost' });
    if (res.status !== 200 || res.body !== 'fetch GET /ping') throw new Error(`probe: ${res.status} ${res.body}`);
  },
  // one TLS keep-alive connection: /ping answered, then /hang held mid-response
  openClient(_service, address) {
    return new Promise((opened, failed) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: portOf(address), rejectUnauthorized: false, servername: 'localhost' });
      let received = '';
      socket.on('error', failed);
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (!received.includes('waiting')) return;
        socket.removeAllListeners('data');
        socket.off('error', failed);
        socket.on('error', () => undefined);
        opened(() => void socket.destroy());
      });
      socket.write('GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\nGET /hang HTTP/1.1\r\nHost: localhost\r\n\r\n');
    });
  },
  async teardown() {
    await web?.stop(AbortSignal.timeout(2_000));
    await Promise.all(blockers.splice(0).map((b) => new Promise((closed) => b.close(closed))));
    rmSync(stateDir, { recursive: true, force: true });
  },
});
