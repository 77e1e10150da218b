import { connect } from 'node:net';
import { httpKind } from '../../services/http/kind.js';
import { FIXTURES } from '../helpers/http/test-context.js';
import { nodeRequest } from '../helpers/http/test-client.js';
import { describeServiceContract, holdMidResponse, PortBlockers } from '../../src/testing/index.js';

/** Ports failingConfig() hands out; released in teardown. */
const blockers = new PortBlockers();

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
    return { listen: `127.0.0.1:${await blockers.hold()}`, app: './fetch-stream.mjs' };
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
    return holdMidResponse(connect({ host: hostname, port: Number(port) }));
  },
  async teardown() {
    await blockers.release();
  },
});
