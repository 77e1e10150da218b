import type { ListenAddress } from '../../src/index.js';

/**
 * The programmatic face of a `pubsub` hub: what other services (an IRC bot relaying channels,
 * a raw-frame emitter driven by a topic, an app) get from `ctx.peer('<hub name>')`.
 *
 * Messages published here go through the same path as a client's publish — topic check,
 * the topic's JSON Schema, history, the backplane — and reach WebSocket subscribers, other
 * handle subscribers and the other nodes alike.
 */
export interface HubHandle {
  /**
   * Publishes `data` (any JSON value) on `topic` (dot-separated segments, no wildcards).
   * Resolves with the message id (`<epoch>:<seq>`); rejects with a HendrixError when the
   * topic is invalid or the data fails the topic's schema (nothing is delivered then).
   */
  publish(topic: string, data: unknown): Promise<string>;
  /**
   * Calls `listener` for every message on topics matching `pattern` (`chat.lobby`, `chat.*`:
   * one segment, `chat.>`: the rest), from any publisher, this process or another node.
   * Returns the function that unsubscribes. A listener that throws is logged, never breaks
   * delivery to others.
   */
  subscribe(pattern: string, listener: (message: HubMessage) => void): () => void;
}

/** A message as subscribers receive it. */
export interface HubMessage {
  /** The topic it was published on. */
  readonly topic: string;
  /** `<epoch>:<seq>`: ordered within a topic on one hub; the epoch changes when history is lost. */
  readonly id: string;
  /** The published JSON value. */
  readonly data: unknown;
  /** When the hub accepted it (ms since the epoch). */
  readonly ts: number;
}

/** What a pubsub service gives its dependents: the hub handle, its stats and address. */
export interface PubsubHandle extends HubHandle {
  /**
   * Open connections, subscriptions and message counters; what the hub holds: `topics` known,
   * `historyMessages` kept and their `historyBytes` (what `limits.historyBytes` bounds), and
   * `retainedBytes`, all of it with the topics (estimated: frames plus fixed overheads).
   */
  stats(): { connections: number; subscriptions: number; published: number; delivered: number; dropped: number; topics: number; historyMessages: number; historyBytes: number; retainedBytes: number };
  /** The bound address when the hub listens on its own. */
  address(): ListenAddress | undefined;
}
