import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { httpKind } from '../../services/http/kind.js';
import { FIXTURES } from '../../services/http/test-context.js';
import { nodeRequest } from '../../services/http/test-client.js';
import { describeServiceContract } from './service-contract.js';

/** Servers holding the ports failingConfig() hands out; closed in teardown. */
const blockers: Server[] = [];

function urlOf(address: string | undefined): string {
  if (address === undefined) throw new Error('the service reported no address');
  return address;
}

describeServiceContract({
  kind: httpKind,
  name: 'web',
  baseDir: FIXTURES,
  // fetch-stream.mjs: /hang streams 'waiting' and never ends (no timer of its own); other paths answer at once
  goodConfig: () => ({ listen: '127.0.0.1:0', app: './fetch-stream.mjs', keepAliveTimeout: '30s' }),
  async failingConfig() {
    const blocker = createServer();
    blockers.push(blocker);
    await new Promise<void>((listening) => blocker.listen(0, '127.0.0.1', listening));
    const { port } = blocker.address() as { port: number };
    return { listen: `127.0.0.1:${port}`, app: './fetch-stream.mjs' };
  },
  failingCode: 'HX_ERR_LISTEN',
  async probe(_service, address) {
    // agent false: Connection: close, so the probe leaves no pooled socket behind
    const res = await nodeRequest(`${urlOf(address)}/ping`);
    if (res.status !== 200 || res.body !== 'fetch GET /ping') throw new Error(`probe: ${res.status} ${res.body}`);
  },
  // one keep-alive connection: /ping answered, then /hang held mid-response
  openClient(_service, address) {
    const { hostname, port } = new URL(urlOf(address));
    return new Promise((opened, failed) => {
      const socket = connect({ host: hostname, port: Number(port) });
      let received = '';
      socket.on('error', failed);
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (!received.includes('waiting')) return;
        socket.removeAllListeners('data');
        socket.off('error', failed);
        socket.on('error', () => undefined); // the forced stop resets it
        opened(() => void socket.destroy());
      });
      socket.write('GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\nGET /hang HTTP/1.1\r\nHost: localhost\r\n\r\n');
    });
  },
  async teardown() {
    await Promise.all(blockers.splice(0).map((b) => new Promise((closed) => b.close(closed))));
  },
});
