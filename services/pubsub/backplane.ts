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
  /** Assigns an id and delivers to every hub (this one included, through onMessage). */
  publish(topic: string, data: unknown): Promise<WireMessage>;
  /** Sets the receiver of every message (called once, before start). */
  onMessage(listener: (message: WireMessage) => void): void;
  /** The epoch ids are currently assigned in. */
  epoch(): string;
  /** Disconnects; publish after stop rejects. */
  stop(): Promise<void>;
}

/** What creates a backplane. */
export interface BackplaneOptions {
  readonly log: Logger;
  /** Prefix of every Redis key and channel, so several hubs can share one Redis. */
  readonly prefix: string;
}

/** The in-process backplane: ids from a random epoch per start and a counter per topic. */
export class MemoryBackplane implements Backplane {
  readonly #seqs = new Map<string, number>();
  #epoch = '';
  #listener: (message: WireMessage) => void = () => undefined;
  #open = false;

  async start(): Promise<void> {
    this.#epoch = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
    this.#seqs.clear();
    this.#open = true;
  }

  onMessage(listener: (message: WireMessage) => void): void {
    this.#listener = listener;
  }

  epoch(): string {
    return this.#epoch;
  }

  async publish(topic: string, data: unknown): Promise<WireMessage> {
    if (!this.#open) throw new Error('the hub is stopped');
    const seq = (this.#seqs.get(topic) ?? 0) + 1;
    this.#seqs.set(topic, seq);
    const message: WireMessage = { topic, id: `${this.#epoch}:${seq}`, epoch: this.#epoch, seq, data, ts: Date.now() };
    this.#listener(message);
    return message;
  }

  async stop(): Promise<void> {
    this.#open = false;
  }
}
