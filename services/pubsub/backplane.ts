import type { Logger } from 'pino';

/** A message as it travels between hubs: assigned its id by the backplane. */
export interface WireMessage {
  readonly topic: string;
  /** `<epoch>:<seq>`. */
  readonly id: string;
  /** The epoch part of the id: the history this message belongs to. */
  readonly epoch: string;
  /** Increasing per topic within an epoch, without gaps when nothing was lost. */
  readonly seq: number;
  readonly data: unknown;
  /** When it was accepted (ms since the Unix epoch). */
  readonly ts: number;
  /** `data` as JSON, when the backplane has it at hand (the hub then frames it without serializing again). */
  readonly json?: string;
}

/**
 * How hubs share topics: the memory backplane serves one process; the Redis one connects
 * every hub using the same Redis (and prefix). The backplane assigns message ids, so that ids
 * are ordered per topic across all nodes, and calls `onMessage` for every message — the ones
 * published here included — in order.
 */
export interface Backplane {
  /** Connects (Redis: waits for the first connection, or fails after `signal` aborts). */
  start(signal: AbortSignal): Promise<void>;
  /**
   * Assigns an id and delivers to every hub (this one included, through onMessage). `json` is
   * `data` serialized, when the caller has it (serialized here otherwise).
   */
  publish(topic: string, data: unknown, json?: string): Promise<WireMessage>;
  /** Sets the receiver of every message (called once, before start). */
  onMessage(listener: (message: WireMessage) => void): void;
  /** The epoch ids are currently assigned in. */
  epoch(): string;
  /**
   * Forgets what this process keeps about `topic` (its counter), because the hub forgot the
   * topic. A later message of the topic must still get a seq above every seq it had in the
   * epoch: ids never repeat or go back.
   */
  forget(topic: string): void;
  /** Disconnects; publish after stop rejects. */
  stop(): Promise<void>;
  /**
   * Gives the backplane its hub's history (called once, by the Hub, before start): a backplane
   * whose hubs join late (the cluster one) sends a joining hub a snapshot of it.
   */
  share?(history: SharedHistory): void;
}

/** One kept message as a history snapshot carries it (JSON values only: it crosses processes). */
export interface DumpedMessage {
  readonly topic: string;
  readonly epoch: string;
  readonly seq: number;
  readonly ts: number;
  /** The data as JSON text, byte for byte as published. */
  readonly json: string;
}

/** A hub's history as a backplane sees it: a snapshot to give a joining hub, and one to take. */
export interface SharedHistory {
  /** Every kept message: the least recently published topics first, oldest first in a topic. */
  dump(): DumpedMessage[];
  /** Keeps another hub's snapshot for `since` replays, without counting or delivering it. */
  restore(messages: readonly DumpedMessage[]): void;
}

/**
 * A WireMessage whose `data` is parsed from `json` on first read, once: a message that only
 * goes out to WebSocket clients (they get `json` framed as it is) is never parsed.
 */
export function lazyWireMessage(topic: string, epoch: string, seq: number, ts: number, json: string): WireMessage {
  let data: unknown;
  let parsed = false;
  return {
    topic,
    id: `${epoch}:${seq}`,
    epoch,
    seq,
    ts,
    json,
    get data(): unknown {
      if (!parsed) {
        data = JSON.parse(json) as unknown;
        parsed = true;
      }
      return data;
    },
  };
}

/** What creates a backplane. */
export interface BackplaneOptions {
  readonly log: Logger;
  /** Prefix of every Redis key and channel, so several hubs can share one Redis. */
  readonly prefix: string;
}

/**
 * Per-topic sequence counters that may forget a topic: a forgotten topic's counter starts again
 * above the highest seq ever forgotten, so its ids keep increasing without a counter per topic
 * ever used.
 */
export class TopicCounters {
  readonly #seqs = new Map<string, number>();
  #forgotten = 0;

  /** The next seq of `topic`. */
  next(topic: string): number {
    const seq = (this.#seqs.get(topic) ?? this.#forgotten) + 1;
    this.#seqs.set(topic, seq);
    return seq;
  }

  /** Drops the counter of `topic`, remembering only how high it went. */
  forget(topic: string): void {
    const seq = this.#seqs.get(topic);
    if (seq === undefined) return;
    this.#seqs.delete(topic);
    if (seq > this.#forgotten) this.#forgotten = seq;
  }
}

/** The in-process backplane: ids from a random epoch per start and a counter per topic. */
export class MemoryBackplane implements Backplane {
  #counters = new TopicCounters();
  #epoch = '';
  #listener: (message: WireMessage) => void = () => undefined;
  #open = false;

  async start(): Promise<void> {
    this.#epoch = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
    this.#counters = new TopicCounters();
    this.#open = true;
  }

  onMessage(listener: (message: WireMessage) => void): void {
    this.#listener = listener;
  }

  epoch(): string {
    return this.#epoch;
  }

  async publish(topic: string, data: unknown, json?: string): Promise<WireMessage> {
    if (!this.#open) throw new Error('the hub is stopped');
    const text = json ?? JSON.stringify(data);
    const seq = this.#counters.next(topic);
    const message: WireMessage = { topic, id: `${this.#epoch}:${seq}`, epoch: this.#epoch, seq, data, ts: Date.now(), json: text };
    this.#listener(message);
    return message;
  }

  forget(topic: string): void {
    this.#counters.forget(topic);
  }

  async stop(): Promise<void> {
    this.#open = false;
  }
}
