import type { Coordinator, CoordinatorContext } from '../../src/kinds/contract.js';
import { TopicCounters } from './backplane.js';

// Runs in the primary, which runs no app code and whose memory matters: this file imports
// nothing but the counters (no ws, no ajv, no zod; not even node:crypto, 0.6 MB of RSS, for an
// epoch that only needs to differ from the previous ones), and never parses a message's data.

/**
 * One sequenced message in a `msgs` batch: its topic, seq, time and data (JSON text), and who
 * published it (`from`, the member, with its `ref`) so that the publisher can resolve its publish.
 */
export interface SequencedMessage {
  readonly topic: string;
  readonly seq: number;
  readonly ts: number;
  readonly json: string;
  readonly from: string;
  readonly ref: number;
}

/** One publish in a `pubs` batch: the member's `ref` for it, its topic and its data (JSON text). */
export interface PublishRequest {
  readonly ref: number;
  readonly topic: string;
  readonly json: string;
}

/**
 * The messages between a hub instance (a member: one channel, in a worker or in the process of
 * the once-services) and its coordinator. Member → coordinator: `pubs` (the publishes of one
 * turn of the member, in order), `forget`, `dumped`. Coordinator → member: `msgs` (a batch of
 * sequenced messages, in order, to every member), `dump` (to a donor), `welcome` (to a joiner).
 */
export type HubChannelMessage =
  | { readonly t: 'pubs'; readonly list: readonly PublishRequest[] }
  | { readonly t: 'forget'; readonly topic: string }
  | { readonly t: 'dumped'; readonly for: string; readonly history: readonly unknown[] }
  | { readonly t: 'msgs'; readonly epoch: string; readonly list: readonly SequencedMessage[] }
  | { readonly t: 'dump'; readonly for: string }
  | { readonly t: 'welcome'; readonly epoch: string; readonly member: string; readonly history: readonly unknown[] };

/**
 * A batch is sent at once when it holds this many messages or this many bytes of data: a member
 * parses a batch in one go, which must not hold its event loop for long.
 */
const BATCH_MESSAGES = 512;
const BATCH_BYTES = 256 * 1024;
/**
 * A hub that sent a batch less than BUSY_MS ago is busy: its next batch stays open for LINGER_MS
 * (the shortest timer), so that the publishes the workers forward at about the same time —
 * publishers served by different workers, each worker's reads — go out together. Every batch
 * costs each worker an IPC message, a turn and a socket write per subscriber, which is what the
 * hub across workers costs beyond the single process; an idle hub sends at once.
 */
const BUSY_MS = 20;
const LINGER_MS = 1;

/** Builds the coordinator of one hub (the kind's `workers.coordinator` resolves to this). */
export function createHubCoordinator(ctx: CoordinatorContext): Coordinator {
  return new HubCoordinator(ctx);
}

/**
 * The sequencer of one hub whose instances run in several processes: every publish goes
 * through it, gets the next seq of its topic in one epoch, and is broadcast to every instance
 * (the publisher's included) in one order. The epoch is made once, when the coordinator is:
 * it outlives worker replacements, so `since` keeps working across a rolling restart.
 *
 * A joining instance gets the history from a donor (an instance already welcomed): the donor
 * snapshots what it has when it reads `dump`; the joiner has been a broadcast target since it
 * joined and keeps what comes until its `welcome`, then restores the snapshot and applies the
 * rest (ClusterBackplane). A topic's counter is forgotten only once every instance that saw
 * its last publish asked (they forget idle topics at about the same time; forgetting earlier
 * would make its ids jump, which clients read as loss).
 *
 * The messages sequenced in one turn of the primary's event loop — within LINGER_MS when the hub
 * is busy — go to each member as one `msgs` batch (one IPC message per member per batch, not per
 * message): a worker then fans the lot out in one turn of its own, and its subscribers get one
 * socket write for all of them. Each member's stream is the same as if every message went
 * alone: a member gets only the messages sequenced after it joined, and the batch so far goes
 * out before any `dump` or `welcome`, so a donor's snapshot and a joiner's early messages split
 * at the same point.
 */
export class HubCoordinator implements Coordinator {
  /** The epoch of every id this hub assigns. */
  readonly epoch = Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
  readonly #ctx: CoordinatorContext;
  readonly #counters = new TopicCounters();
  /** Publishes so far: when a member joined and a topic was last published, on one scale. */
  #tick = 0;
  /** Every member, with the tick it joined at. */
  readonly #joined = new Map<string, number>();
  /** Members that got their welcome (the ones that may be donors), in the order they got it. */
  readonly #welcomed = new Set<string>();
  /** Joiner → the donor asked for its snapshot. */
  readonly #donors = new Map<string, string>();
  readonly #lastPublish = new Map<string, number>();
  /** Topic → the members that asked to forget it since its last publish. */
  readonly #asked = new Map<string, Set<string>>();
  /** The messages sequenced and not sent yet; the first one's tick, and their data's bytes. */
  #batch: SequencedMessage[] = [];
  #batchTick = 0;
  #batchBytes = 0;
  /** The pending send of the batch: after this turn (idle) or after LINGER_MS (busy). */
  #flushSoon: NodeJS.Immediate | undefined;
  #flushLater: NodeJS.Timeout | undefined;
  /** When the last batch was sent (performance.now()). */
  #flushedAt = -Infinity;

  constructor(ctx: CoordinatorContext) {
    this.#ctx = ctx;
  }

  join(member: string): void {
    this.#joined.set(member, this.#tick);
    this.#askDonor(member);
  }

  leave(member: string): void {
    this.#joined.delete(member);
    this.#welcomed.delete(member);
    this.#donors.delete(member);
    for (const [joiner, donor] of [...this.#donors]) if (donor === member) this.#askDonor(joiner);
    for (const [topic, asked] of [...this.#asked]) {
      asked.delete(member);
      this.#forgetIfAllAsked(topic);
    }
  }

  message(member: string, message: unknown): void {
    const m = message as Partial<Record<string, unknown>> | null;
    if (m?.t === 'pubs' && Array.isArray(m.list)) {
      let dropped = 0;
      for (const p of m.list as (Partial<Record<string, unknown>> | null)[]) {
        if (typeof p?.topic === 'string' && typeof p.json === 'string' && typeof p.ref === 'number') this.#publish(member, p.ref, p.topic, p.json);
        else dropped++;
      }
      if (dropped > 0) this.#ctx.log.warn({ member, dropped }, 'malformed hub publishes dropped');
      return;
    }
    if (m?.t === 'forget' && typeof m.topic === 'string') return this.#forget(member, m.topic);
    if (m?.t === 'dumped' && typeof m.for === 'string' && Array.isArray(m.history)) {
      // a snapshot from a donor replaced meanwhile (it was slow, then left) is not the one awaited
      if (this.#donors.get(m.for) === member) this.#welcome(m.for, m.history);
      return;
    }
    this.#ctx.log.warn({ member, type: typeof m?.t === 'string' ? m.t : typeof m }, 'unknown hub channel message dropped');
  }

  close(): void {
    this.#flush();
    this.#joined.clear();
    this.#welcomed.clear();
    this.#donors.clear();
    this.#asked.clear();
  }

  /** Asks the longest-welcomed member for a snapshot for `joiner`; welcomes it empty without one. */
  #askDonor(joiner: string): void {
    const donor = this.#welcomed.values().next().value;
    if (donor === undefined) return this.#welcome(joiner, []);
    this.#donors.set(joiner, donor);
    this.#send(donor, { t: 'dump', for: joiner });
  }

  #welcome(joiner: string, history: readonly unknown[]): void {
    this.#donors.delete(joiner);
    if (!this.#joined.has(joiner)) return;
    this.#welcomed.add(joiner);
    this.#send(joiner, { t: 'welcome', epoch: this.epoch, member: joiner, history });
  }

  #publish(from: string, ref: number, topic: string, json: string): void {
    const seq = this.#counters.next(topic);
    this.#lastPublish.set(topic, ++this.#tick);
    this.#asked.delete(topic);
    // the json text crosses once per member, whatever the number of subscribers there
    if (this.#batch.length === 0) this.#batchTick = this.#tick;
    this.#batch.push({ topic, seq, ts: Date.now(), json, from, ref });
    this.#batchBytes += json.length;
    if (this.#batch.length >= BATCH_MESSAGES || this.#batchBytes >= BATCH_BYTES) return this.#flush();
    if (this.#flushSoon !== undefined || this.#flushLater !== undefined) return;
    // busy: linger; idle: after the poll phase, with whatever every member's channel brought this turn
    if (performance.now() - this.#flushedAt < BUSY_MS) this.#flushLater = setTimeout(() => this.#flush(), LINGER_MS);
    else this.#flushSoon = setImmediate(() => this.#flush());
  }

  /** Sends the batch to every member, each the part sequenced after it joined, in join order. */
  #flush(): void {
    clearImmediate(this.#flushSoon);
    clearTimeout(this.#flushLater);
    this.#flushSoon = this.#flushLater = undefined;
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#flushedAt = performance.now();
    const first = this.#batchTick;
    for (const [member, joinedAt] of this.#joined) {
      // message i of the batch has tick first + i; a member joined at tick j has seen up to j
      const list = joinedAt < first ? batch : batch.slice(joinedAt - first + 1);
      if (list.length > 0) this.#ctx.send(member, { t: 'msgs', epoch: this.epoch, list } satisfies HubChannelMessage);
    }
  }

  #forget(member: string, topic: string): void {
    if (!this.#lastPublish.has(topic)) return;
    let asked = this.#asked.get(topic);
    if (asked === undefined) this.#asked.set(topic, (asked = new Set()));
    asked.add(member);
    this.#forgetIfAllAsked(topic);
  }

  /**
   * Forgets the counter of `topic` once every member that saw its last publish asked; a member
   * that joined after it never knew the topic (or has its kept messages, which outlive the
   * others' by nothing: they expire at the same time), and would never ask.
   */
  #forgetIfAllAsked(topic: string): void {
    const last = this.#lastPublish.get(topic);
    const asked = this.#asked.get(topic);
    if (last === undefined || asked === undefined) return;
    for (const [member, joinedAt] of this.#joined) if (joinedAt < last && !asked.has(member)) return;
    this.#counters.forget(topic);
    this.#lastPublish.delete(topic);
    this.#asked.delete(topic);
  }

  #send(member: string, message: HubChannelMessage): void {
    this.#flush();
    this.#ctx.send(member, message);
  }
}
