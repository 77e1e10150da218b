import type { Logger } from 'pino';
import type { Figure } from '../../src/kinds/contract.js';
import type { Backplane, WireMessage } from './backplane.js';
import { textFrameOf } from './frame.js';
import type { HubMessage } from './handle.js';
import { History, type HistoryLimits, type HistoryStats, type Replay } from './history.js';
import { LimitWatch } from './limits.js';
import { dumpHistory, messageText, restoreHistory } from './snapshot.js';
import type { TopicRules } from './topic-rules.js';
import { checkTopic } from '../../src/net/topics.js';
import { SubscriptionTrie } from './trie.js';

/** Something that receives published messages: a WebSocket connection or a handle listener. */
export interface Subscriber {
  /** The fan-out that reached it last (set by the hub: a subscriber matched twice gets a message once). */
  stamp?: number;
  /** Called once per message per subscriber, with the frame shared by all connections. */
  deliver(message: WireMessage, frame: Buffer): void;
}

/** Why a publish was refused, as an error frame says it. */
export class PublishRefused extends Error {
  constructor(
    readonly code: 'bad_topic' | 'invalid_data' | 'unavailable',
    message: string,
  ) {
    super(message);
  }
}

/** Counters of a hub, for logs and the handle. */
export interface HubStats {
  /** Messages this hub fanned out (its own and, with a backplane, those of other instances). */
  published: number;
  /** Messages published through this hub (clients, HTTP, the handle) that got an id: summed over workers or instances, each message counts once. */
  accepted: number;
  delivered: number;
  dropped: number;
}

/** How often the sweep runs at most (expiry, idle topics, limit logs): topics with a ttl make it run more often. */
const SWEEP_MS = 1_000;

/**
 * The topic machinery of one hub, transport aside: publishing (topic check, schema, the
 * backplane that assigns ids), fan-out through the subscription trie — each message
 * serialized and framed once, whatever the number of subscribers — and history for `since`,
 * kept within the hub-wide limits by a periodic sweep (expiry on time, idle topics forgotten).
 */
export class Hub {
  readonly #trie = new SubscriptionTrie<Subscriber>();
  readonly #history: History;
  #rules: TopicRules;
  readonly #backplane: Backplane;
  readonly #log: Logger;
  /** Logs the limits when they bite (once, not per message); connections report theirs here too. */
  readonly watch: LimitWatch;
  readonly stats: HubStats = { published: 0, accepted: 0, delivered: 0, dropped: 0 };
  readonly #pending: WireMessage[] = [];
  #sweep: NodeJS.Timeout | undefined;
  #fanning = false;
  #stamp = 0;

  /** Builds the hub and starts its sweep (stop it with close()). */
  constructor(options: { rules: TopicRules; backplane: Backplane; log: Logger; limits: HistoryLimits; now?: () => number }) {
    this.#rules = options.rules;
    this.#backplane = options.backplane;
    this.#log = options.log;
    this.watch = new LimitWatch(options.log, options.now);
    const backplane = options.backplane;
    this.#history = new History({ rules: (topic) => this.#rules.limits(topic), limits: options.limits, watch: this.watch, forgot: (topic) => backplane.forget(topic), ...(options.now ? { now: options.now } : {}) });
    this.#backplane.onMessage((message) => this.#fanOut(message));
    const now = options.now ?? Date.now;
    backplane.share?.({ dump: () => dumpHistory(this.#history), restore: (messages) => restoreHistory(this.#history, messages, now()) });
    this.#startSweep();
  }

  #startSweep(): void {
    clearInterval(this.#sweep);
    // a quarter of the shortest ttl, so a kept message outlives its ttl by little
    const ttls = this.#rules.ttls().filter((ttl) => ttl > 0);
    const every = Math.max(25, Math.min(SWEEP_MS, ...ttls.map((ttl) => ttl / 4)));
    this.#sweep = setInterval(() => {
      this.#history.sweep();
      this.watch.sweep();
    }, every);
    this.#sweep.unref();
  }

  /**
   * Switches to new `topics:` rules (a reload): the next publishes are checked against the new
   * schemas, and the known topics take their new history settings (History.retune).
   */
  setRules(rules: TopicRules): void {
    this.#rules = rules;
    this.#history.retune();
    this.#startSweep();
  }

  /** Applies new hub-wide history limits (a reload). */
  setLimits(limits: HistoryLimits): void {
    this.#history.setLimits(limits);
  }

  /** Stops the sweep. */
  close(): void {
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  /** What the history holds: topics, kept messages and their bytes. */
  retained(): HistoryStats {
    return this.#history.stats();
  }

  /** How many subscriptions are registered (connections and handle listeners). */
  get subscriptions(): number {
    return this.#trie.size;
  }

  /** The epoch ids are assigned in now. */
  epoch(): string {
    return this.#backplane.epoch();
  }

  /** Checks and publishes; resolves once the backplane assigned the id (local subscribers may already have it). */
  async publish(topic: string, data: unknown): Promise<WireMessage> {
    const bad = checkTopic(topic);
    if (bad !== undefined) throw new PublishRefused('bad_topic', bad);
    // serialized once, before an id is assigned: data that cannot be (a cycle, a BigInt, nesting
    // deep enough to overflow the stack) is refused without consuming a seq
    let json: string | undefined;
    let schemaErrors: string | undefined;
    try {
      json = JSON.stringify(data);
      if (json !== undefined) schemaErrors = this.#rules.check(topic, data);
    } catch (error) {
      throw new PublishRefused('invalid_data', error instanceof RangeError ? 'data is nested too deeply' : `data is not JSON: ${(error as Error).message}`);
    }
    if (json === undefined) throw new PublishRefused('invalid_data', 'data is not a JSON value');
    if (schemaErrors !== undefined) throw new PublishRefused('invalid_data', `data does not match the schema of ${topic}: ${schemaErrors}`);
    let message: WireMessage;
    try {
      message = await this.#backplane.publish(topic, data, json);
    } catch (error) {
      throw new PublishRefused('unavailable', `the hub cannot publish now: ${(error as Error).message}`);
    }
    this.stats.accepted++;
    return message;
  }

  /** Registers `subscriber` for a valid `pattern`. */
  subscribe(pattern: string, subscriber: Subscriber): boolean {
    return this.#trie.add(pattern, subscriber);
  }

  /** Unregisters `subscriber` from `pattern`. */
  unsubscribe(pattern: string, subscriber: Subscriber): boolean {
    return this.#trie.remove(pattern, subscriber);
  }

  /** What a `since` subscription to the exact topic can replay. */
  replay(topic: string, since: { epoch: string; seq: number }): Replay {
    return this.#history.replay(topic, since, this.#backplane.epoch());
  }

  #fanOut(message: WireMessage): void {
    // a listener may publish while a message is delivered (the memory backplane calls back at
    // once): such messages wait for the current one, so order holds and stamps stay unique
    this.#pending.push(message);
    if (this.#fanning) return;
    this.#fanning = true;
    try {
      for (let next = this.#pending.shift(); next !== undefined; next = this.#pending.shift()) this.#deliver(next);
    } finally {
      this.#fanning = false;
    }
  }

  #deliver(message: WireMessage): void {
    this.stats.published++;
    const { topic, id, ts } = message;
    const json = message.json ?? JSON.stringify(message.data);
    const frame = textFrameOf(messageText(topic, id, json, ts), this.#history.keeps(topic));
    this.#history.record(message, frame);
    const stamp = ++this.#stamp;
    let reached = 0;
    this.#trie.match(message.topic, (subscriber) => {
      if (subscriber.stamp === stamp) return;
      subscriber.stamp = stamp;
      reached++;
      try {
        subscriber.deliver(message, frame);
      } catch (error) {
        this.#log.error({ err: error, topic: message.topic }, 'subscriber failed');
      }
    });
    this.stats.delivered += reached;
  }

  /** A subscriber calling the listener of a programmatic subscription. */
  static listener(listener: (message: HubMessage) => void): Subscriber {
    return {
      stamp: 0,
      deliver(message) {
        listener({ topic: message.topic, id: message.id, data: message.data, ts: message.ts });
      },
    };
  }
}

/**
 * The figures of a hub service (Service.figures): its clients (`connections`) and
 * subscriptions now, and the messages published through it, delivered and dropped
 * (maxBuffered with slowConsumer: drop) since it started.
 */
export function hubFigures(connections: number, hub: Hub | undefined): Figure[] {
  const stats = hub?.stats;
  return [
    { name: 'pubsub_connections', type: 'gauge', help: 'WebSocket clients connected now.', value: connections },
    { name: 'pubsub_subscriptions', type: 'gauge', help: 'Subscriptions now (one per pattern per client, and per handle listener).', value: hub?.subscriptions ?? 0 },
    { name: 'pubsub_messages_total', type: 'counter', help: 'Messages published through this hub (clients, HTTP, dependents) and given an id.', value: stats?.accepted ?? 0 },
    // the hub counts a message dropped for a slow client as reaching it: not a delivery here
    { name: 'pubsub_deliveries_total', type: 'counter', help: 'Messages handed to a subscriber (a client, a handle listener), drops not included.', value: (stats?.delivered ?? 0) - (stats?.dropped ?? 0) },
    { name: 'pubsub_drops_total', type: 'counter', help: 'Messages not sent to a slow client whose buffer was over maxBuffered.', value: stats?.dropped ?? 0 },
  ];
}
