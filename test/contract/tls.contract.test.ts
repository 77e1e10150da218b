import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { httpKind } from '../../services/http/kind.js';
import { FIXTURES } from '../helpers/http/test-context.js';
import type { Service } from '../../src/kinds/contract.js';
import { tlsKind } from '../../services/tls/kind.js';
import { httpsGet } from '../helpers/tls/test-client.js';
import { createContractContext, describeServiceContract, holdMidResponse, PortBlockers } from '../../src/testing/index.js';

/** Ports held for failingConfig(), the served http service, and the state folder. */
const blockers = new PortBlockers();
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
    return { listen: `127.0.0.1:${await blockers.hold()}`, serves: 'web', selfSigned: true, stateDir, watch: false };
  },
  failingCode: 'HX_ERR_LISTEN',
  async probe(_service, address) {
    const res = await httpsGet({ port: portOf(address), path: '/ping', rejectUnauthorized: false, servername: 'localhost' });
    if (res.status !== 200 || res.body !== 'fetch GET /ping') throw new Error(`probe: ${res.status} ${res.body}`);
  },
  // one TLS keep-alive connection: /ping answered, then /hang held mid-response
  openClient(_service, address) {
    return holdMidResponse(tlsConnect({ host: '127.0.0.1', port: portOf(address), rejectUnauthorized: false, servername: 'localhost' }));
  },
  async teardown() {
    await web?.stop(AbortSignal.timeout(2_000));
    await blockers.release();
    rmSync(stateDir, { recursive: true, force: true });
  },
});
