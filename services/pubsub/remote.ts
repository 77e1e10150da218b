import type { Service, ServiceContext } from '../../src/kinds/contract.js';
import type { Backplane } from './backplane.js';
import { createBackplane, startBackplane } from './backplane-start.js';
import type { PubsubHandle } from './handle.js';
import { Hub } from './hub.js';
import { makePubsubHandle } from './hub-handle.js';
import { historyLimits } from './reload.js';
import type { PubsubConfig } from './schema.js';
import { TopicRules } from './topic-rules.js';
// the kind's error codes, declared also when the stand-in is built without its kind (tests)
import './codes.js';

/**
 * What stands in for a hub that runs in every worker, in the process of the once-services
 * that depend on it (an IRC bot relaying `hub:alerts`): no listener, no WebSocket — a Hub on
 * the same backplane as the workers' instances (the channel to the hub's coordinator, or
 * Redis), so that its handle publishes into and subscribes to the one hub: one id sequence,
 * one history. The handle is the service's (publish, subscribe, stats; no address).
 */
export class PubsubStandIn implements Service {
  readonly #ctx: ServiceContext<PubsubConfig>;
  #config: PubsubConfig;
  readonly #handle: PubsubHandle;
  #hub: Hub | undefined;
  #backplane: Backplane | undefined;

  /** Opens nothing. */
  constructor(ctx: ServiceContext<PubsubConfig>) {
    this.#ctx = ctx;
    this.#config = ctx.config;
    this.#handle = makePubsubHandle({ name: ctx.name, hub: () => this.#hub, connections: () => 0, bound: () => undefined });
  }

  /** Compiles the topic schemas and joins the hub; resolves once welcomed (the history is here). */
  async start(signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const config = this.#config;
    const rules = await TopicRules.create(config.topics, { service: ctx.name, baseDir: ctx.baseDir, locate: (path) => ctx.locate(path) });
    const backplane = await createBackplane(ctx, config);
    const hub = new Hub({ rules, backplane, log: ctx.log, limits: historyLimits(config) });
    try {
      await startBackplane(ctx, config, backplane, signal);
    } catch (error) {
      hub.close();
      throw error;
    }
    this.#backplane = backplane;
    this.#hub = hub;
  }

  /** Takes new topic rules and limits (the hub's reload in the workers), as the service does. */
  async reload(next: unknown, signal: AbortSignal): Promise<void> {
    const config = next as PubsubConfig;
    const ctx = this.#ctx;
    const rules = await TopicRules.create(config.topics, { service: ctx.name, baseDir: ctx.baseDir, locate: (path) => ctx.locate(path) });
    signal.throwIfAborted();
    this.#config = config;
    this.#hub?.setRules(rules);
    this.#hub?.setLimits(historyLimits(config));
  }

  /** Leaves the hub; publishes through the handle reject from now on. */
  async stop(): Promise<void> {
    const backplane = this.#backplane;
    this.#backplane = undefined;
    this.#hub?.close();
    this.#hub = undefined;
    await backplane?.stop();
  }

  /** Publish, subscribe and stats, as the hub's own handle. */
  handle(): PubsubHandle {
    return this.#handle;
  }
}
