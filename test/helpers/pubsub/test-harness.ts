import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { afterEach } from 'vitest';
import { createContractContext } from '../../../src/testing/index.js';
import { pubsubKind } from '../../../services/pubsub/kind.js';
import { PubsubService } from '../../../services/pubsub/service.js';
import { HubClient } from './test-client.js';

/** The pubsub test fixtures (schemas, keys). */
export const PUBSUB_FIXTURES = fileURLToPath(new URL('../../../services/pubsub/fixtures/', import.meta.url));

const running = new Set<PubsubService>();

/** Starts a hub listening on its own port (127.0.0.1:0); stopped by stopHubs(). */
export async function startHub(partial: Record<string, unknown> = {}, options: { log?: Logger; name?: string; peers?: Record<string, unknown> } = {}): Promise<{ hub: PubsubService; url: string; port: number }> {
  const ctx = createContractContext(pubsubKind, { listen: '127.0.0.1:0', ...partial }, { baseDir: PUBSUB_FIXTURES, name: options.name ?? 'hub', ...(options.log ? { log: options.log } : {}), ...(options.peers ? { peers: options.peers } : {}) });
  const hub = new PubsubService(ctx as never);
  running.add(hub);
  await hub.start(AbortSignal.timeout(10_000));
  const address = hub.handle().address();
  const port = address !== undefined && 'port' in address ? address.port : 0;
  return { hub, url: `ws://127.0.0.1:${port}${String((ctx.config as { path: string }).path)}`, port };
}

/** Stops every hub startHub() started. */
export async function stopHubs(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((h) => h.stop(AbortSignal.timeout(2_000))));
}

/**
 * For a test file: returns `connect(url)`, which opens a hub client; after each test every
 * client opened is terminated and every hub startHub() started is stopped.
 */
export function useHubClients(): (url: string) => Promise<HubClient> {
  const clients: HubClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await stopHubs();
  });
  return async (url) => {
    const client = await HubClient.connect(url);
    clients.push(client);
    return client;
  };
}
