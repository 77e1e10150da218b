import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { afterEach } from 'vitest';
import type { ClientOptions } from 'ws';
import { createContractContext } from '../../../src/testing/index.js';
import { pubsubKind } from '../../../services/pubsub/kind.js';
import type { PubsubConfig } from '../../../services/pubsub/schema.js';
import { PubsubService } from '../../../services/pubsub/service.js';
import { HubClient } from './test-client.js';

/** The pubsub test fixtures (schemas, keys). */
export const PUBSUB_FIXTURES = fileURLToPath(new URL('../../../services/pubsub/fixtures/', import.meta.url));

const running = new Set<PubsubService>();

/** Options of startHub() and hubConfig(). */
export interface HubOptions {
  log?: Logger;
  name?: string;
  /** What ctx.peer() returns; the same object is read at every call (swap a handle in it to test rebind). */
  peers?: Record<string, unknown>;
  /** Where relative schema and key files resolve; default PUBSUB_FIXTURES. */
  baseDir?: string;
}

/**
 * A hub config as the manifest validation gives it (defaults applied), listening on
 * 127.0.0.1:0 unless `partial` says otherwise: what startHub() starts and reload() takes.
 */
export function hubConfig(partial: Record<string, unknown> = {}, options: HubOptions = {}): PubsubConfig {
  return hubContext(partial, options).config as unknown as PubsubConfig;
}

function hubContext(partial: Record<string, unknown>, options: HubOptions) {
  return createContractContext(pubsubKind, { listen: '127.0.0.1:0', ...partial }, { baseDir: options.baseDir ?? PUBSUB_FIXTURES, name: options.name ?? 'hub', ...(options.log ? { log: options.log } : {}), ...(options.peers ? { peers: options.peers } : {}) });
}

/** Reloads a running hub in place with the config `partial` describes (as hubConfig() builds it). */
export function reloadHub(hub: PubsubService, partial: Record<string, unknown> = {}, options: HubOptions = {}): Promise<void> {
  return hub.reload(hubConfig(partial, options), AbortSignal.timeout(10_000));
}

/** Starts a hub listening on its own port (127.0.0.1:0); stopped by stopHubs(). */
export async function startHub(partial: Record<string, unknown> = {}, options: HubOptions = {}): Promise<{ hub: PubsubService; url: string; port: number }> {
  const ctx = hubContext(partial, options);
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
export function useHubClients(): (url: string, options?: ClientOptions) => Promise<HubClient> {
  const clients: HubClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await stopHubs();
  });
  return async (url, options) => {
    const client = await HubClient.connect(url, options);
    clients.push(client);
    return client;
  };
}
