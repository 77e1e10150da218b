import { WebSocket } from 'ws';
import { pubsubKind } from '../../services/pubsub/kind.js';
import { describeServiceContract, PortBlockers } from '../../src/testing/index.js';

/** Ports held for failingConfig(); released in teardown. */
const blockers = new PortBlockers();

function wsUrl(address: string | undefined): string {
  if (address === undefined) throw new Error('the hub reported no address');
  return address;
}

/** Opens a WebSocket to the hub and resolves once a subscribe is acknowledged. */
function subscribed(address: string | undefined): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(address));
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', topic: 'contract', id: 1 })));
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'ack') resolve(ws);
    });
  });
}

describeServiceContract({
  kind: pubsubKind,
  name: 'hub',
  goodConfig: () => ({ listen: '127.0.0.1:0', heartbeat: '1s' }),
  async failingConfig() {
    return { listen: `127.0.0.1:${await blockers.hold()}` };
  },
  failingCode: 'HX_ERR_LISTEN',
  async probe(_service, address) {
    const ws = await subscribed(address);
    await new Promise<void>((closed) => {
      ws.once('close', () => closed());
      ws.close();
    });
  },
  async openClient(_service, address) {
    const ws = await subscribed(address);
    ws.on('error', () => undefined);
    return () => void ws.terminate();
  },
  async teardown() {
    await blockers.release();
  },
});
