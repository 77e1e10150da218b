import type { Logger } from 'pino';
import type { ServiceContext } from '../../src/kinds/contract.js';
import type { HubHandle, HubMessage } from '../pubsub/handle.js';
import { rawError } from './errors.js';
import { fromEntries, type RawConfig } from './schema.js';

/** One `from` entry with the handle of its hub. */
export interface HubTarget {
  /** The hub's service name. */
  readonly hub: string;
  /** The topic or pattern. */
  readonly topic: string;
  /** Where the entry is in the service config, for errors. */
  readonly path: (string | number)[];
  readonly handle: HubHandle;
}

interface Subscription extends HubTarget {
  readonly unsubscribe: () => void;
}

/** A change of subscriptions made and not yet committed: the old ones are still in place. */
export interface SubscriptionChange {
  /** Unsubscribes what the new targets no longer name. */
  commit(): void;
  /** Unsubscribes what the change added: back to before. */
  undo(): void;
}

/** Whether a peer has a hub's publish and subscribe (the plan already checked that it is a pubsub). */
function isHub(value: unknown): value is HubHandle {
  const handle = value as Partial<HubHandle> | null | undefined;
  return typeof handle?.publish === 'function' && typeof handle.subscribe === 'function';
}

/** What the subscriptions need from the service context. */
type Where = Pick<ServiceContext, 'name' | 'locate' | 'location' | 'peer'>;

/** The hub handles the `from` entries of `config` name now (ctx.peer), checked before anything changes. */
export function resolveHubs(ctx: Where, config: Pick<RawConfig, 'from'>): HubTarget[] {
  return fromEntries(config).map(({ hub, topic, path }) => {
    const handle = ctx.peer<unknown>(hub);
    if (!isHub(handle)) throw rawError(ctx, 'HX_ERR_RAW_FROM', `\`from: ${hub}:${topic}\` names a service that is not a pubsub hub`, { path });
    return { hub, topic, path, handle };
  });
}

/**
 * The hub subscriptions of a raw service. A reload or a rebind reconciles them with the next
 * targets: an entry on the same hub handle and topic is kept as it is (no message is missed or
 * doubled), the others are subscribed first and the ones left over unsubscribed only on commit.
 */
export class HubSubscriptions {
  readonly #ctx: Omit<Where, 'peer'>;
  readonly #log: Logger;
  readonly #listener: (message: HubMessage) => void;
  #list: Subscription[] = [];

  constructor(ctx: Omit<Where, 'peer'>, log: Logger, listener: (message: HubMessage) => void) {
    this.#ctx = ctx;
    this.#log = log;
    this.#listener = listener;
  }

  /** The subscriptions in place, as `hub:topic`. */
  get entries(): string[] {
    return this.#list.map((s) => `${s.hub}:${s.topic}`);
  }

  /**
   * Subscribes to the targets not subscribed yet. A subscribe that throws unsubscribes the ones
   * this change added and throws HX_ERR_RAW_FROM at the target's entry: nothing changed.
   */
  change(targets: readonly HubTarget[]): SubscriptionChange {
    const kept = new Set<Subscription>();
    const next: Subscription[] = [];
    const added: Subscription[] = [];
    try {
      for (const target of targets) {
        let subscription = this.#list.find((s) => !kept.has(s) && s.hub === target.hub && s.topic === target.topic && s.handle === target.handle);
        if (subscription !== undefined) kept.add(subscription);
        else {
          subscription = this.#subscribe(target);
          added.push(subscription);
        }
        next.push(subscription);
      }
    } catch (error) {
      this.#drop(added);
      throw error;
    }
    const before = this.#list;
    let done = false;
    return {
      commit: () => {
        if (done) return;
        done = true;
        this.#list = next;
        this.#drop(before.filter((s) => !kept.has(s)));
      },
      undo: () => {
        if (done) return;
        done = true;
        this.#drop(added);
      },
    };
  }

  /** Unsubscribes from everything. */
  clear(): void {
    this.#drop(this.#list.splice(0));
  }

  #subscribe(target: HubTarget): Subscription {
    try {
      return { ...target, unsubscribe: target.handle.subscribe(target.topic, this.#listener) };
    } catch (error) {
      throw rawError(this.#ctx, 'HX_ERR_RAW_FROM', `cannot subscribe to ${target.topic}: ${(error as Error).message}`, { path: target.path, cause: error });
    }
  }

  #drop(list: readonly Subscription[]): void {
    for (const { unsubscribe } of list) {
      try {
        unsubscribe();
      } catch (error) {
        this.#log.warn({ err: error }, 'unsubscribing from the hub failed');
      }
    }
  }
}
