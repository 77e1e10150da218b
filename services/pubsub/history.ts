import type { WireMessage } from './backplane.js';
import type { LimitWatch } from './limits.js';

/** What a `since` replay found. */
export interface Replay {
  /** The kept messages after `since`, oldest first, each with its frame. */
  readonly messages: readonly Kept[];
  /** Why some messages after `since` cannot be replayed, or undefined when none were lost. */
  readonly lost: 'epoch' | 'history' | 'gap' | undefined;
}

/** A kept message: its seq, when this hub kept it (ms), and its ready-made frame. */
export interface Kept {
  readonly seq: number;
  readonly at: number;
  readonly frame: Buffer;
}

/**
 * Bytes counted per kept message besides its frame: the entry, the Buffer object and the
 * frame's own ArrayBuffer (kept frames are not slices of Node's shared pool, see Hub). Measured
 * on Node 20 (x64) with heapUsed + arrayBuffers after gc: about 260; rounded up.
 */
export const ENTRY_OVERHEAD = 300;
/**
 * Bytes counted per known topic besides its name: its state, its map entries here and in the
 * backplane's counters, its log's array. Measured as above: about 310 without kept messages,
 * about 420 more with one (its entries array); rounded up.
 */
export const TOPIC_OVERHEAD = 400;

/** Parses `<epoch>:<seq>`; undefined when malformed. */
export function parseMessageId(id: unknown): { epoch: string; seq: number } | undefined {
  if (typeof id !== 'string') return undefined;
  const at = id.lastIndexOf(':');
  if (at <= 0) return undefined;
  const seq = Number(id.slice(at + 1));
  if (!Number.isSafeInteger(seq) || seq < 0) return undefined;
  return { epoch: id.slice(0, at), seq };
}

/** The hub-wide limits on what the history keeps (the manifest's `limits`). */
export interface HistoryLimits {
  /** `limits.historyBytes`: kept messages of every topic together, overheads counted. */
  readonly bytes: number;
  /** `limits.topics`: topics known at once (each has a counter, and a log when it keeps history). */
  readonly topics: number;
  /** `limits.topicIdle`: how long a topic with nothing kept is remembered after its last message. */
  readonly idle: number;
}

/** What the history needs from its hub. */
export interface HistoryOptions {
  /** The `history` and `ttl` of a topic (its first matching `topics:` entry). */
  readonly rules: (topic: string) => { history: number; ttl: number } | undefined;
  readonly limits: HistoryLimits;
  readonly watch: LimitWatch;
  /** Called when a topic is forgotten: the backplane drops its counter too. */
  readonly forgot: (topic: string) => void;
  readonly now?: () => number;
}

/** What the history holds, for the hub's stats. */
export interface HistoryStats {
  readonly topics: number;
  readonly messages: number;
  /** Bytes of the kept messages (what `limits.historyBytes` bounds). */
  readonly bytes: number;
  /** Everything the history holds, topics included (estimated with the overheads above). */
  readonly retained: number;
}

interface TopicState {
  readonly topic: string;
  /** The topic's `history` and `ttl` (its `topics:` entry; a reload may change them). */
  history: number;
  ttl: number;
  epoch: string;
  lastSeq: number;
  /** The first seq this state saw in `epoch`: what came before belongs to a forgotten state, or was never seen here. */
  start: number;
  /** Kept messages from `head` on (dropping from the head is O(1); the array is compacted now and then). */
  entries: Kept[];
  head: number;
  bytes: number;
  /** Seqs before which a message never arrived here (a backplane outage, another node's epoch). */
  gaps: number[] | undefined;
  /** When its last message came (ms, this hub's clock). */
  used: number;
}

/** Epochs whose forgotten seqs are remembered (the current one, and a few a Redis outage went through). */
const FORGOTTEN_EPOCHS = 8;

/**
 * The topics this hub knows: for each, its last id (so that ids skipping — a message this node
 * never saw — or a new epoch are noticed), and, when its `topics:` entry keeps history, its
 * recent messages for `since` replays.
 *
 * Everything in it is bounded: kept messages by count (`history`) and age (`ttl`, expired by the
 * hub's sweep, not on read), all topics' kept bytes by `limits.historyBytes` (the oldest
 * messages of the least recently published topics go first), the number of topics by
 * `limits.topics` (the least recently published is forgotten), and a topic with nothing kept is
 * forgotten after `limits.topicIdle`. A forgotten topic leaves one number per epoch behind —
 * the highest seq forgotten — so that a later `since` older than it says `lost: 'epoch'`
 * (messages may be missing) rather than claiming a complete replay.
 */
export class History {
  /** Every known topic, least recently published first. */
  readonly #states = new Map<string, TopicState>();
  /** The topics holding kept messages, in the same order. */
  readonly #kept = new Map<string, TopicState>();
  readonly #forgotten = new Map<string, number>();
  readonly #options: HistoryOptions;
  #limits: HistoryLimits;
  readonly #now: () => number;
  #bytes = 0;
  #messages = 0;
  #topicBytes = 0;

  constructor(options: HistoryOptions) {
    this.#options = options;
    this.#limits = options.limits;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Applies new hub-wide limits (a reload): over the new `bytes` or `topics`, the least
   * recently published go now, as they would have on the next message; `idle` applies from the
   * next sweep.
   */
  setLimits(limits: HistoryLimits): void {
    this.#limits = limits;
    if (this.#bytes > limits.bytes) this.#evictBytes();
    let forgotten = 0;
    let first: string | undefined;
    while (this.#states.size > limits.topics) {
      const oldest = this.#states.values().next().value as TopicState;
      first ??= oldest.topic;
      this.#forget(oldest);
      forgotten++;
    }
    if (forgotten > 0) this.#options.watch.bite('limits.topics', limits.topics, { forgotten: first, count: forgotten });
  }

  /**
   * Applies changed `topics:` rules (a reload) to the topics already known: each takes the
   * `history` and `ttl` of the entry that now matches it; kept messages beyond the new size
   * are dropped, oldest first (beyond the new ttl: at the next sweep). A topic that starts
   * keeping history keeps what comes next.
   */
  retune(): void {
    for (const state of this.#states.values()) {
      const rule = this.#options.rules(state.topic);
      state.history = rule?.history ?? 0;
      state.ttl = rule?.ttl ?? 0;
      this.#drop(state, state.entries.length - state.head - state.history);
      if (state.history === 0) state.gaps = undefined;
    }
  }

  /** Whether messages of `topic` are kept (their frames should not hold on to shared memory). */
  keeps(topic: string): boolean {
    return (this.#options.rules(topic)?.history ?? 0) > 0;
  }

  /**
   * Notes `message` as its topic's latest, and keeps it when the topic keeps history. `now`:
   * when it came — another hub's time for a restored snapshot (Hub.restore), so that its ttl
   * and idleness run out here when they do there.
   */
  record(message: WireMessage, frame: Buffer, now = this.#now()): void {
    let state = this.#states.get(message.topic);
    if (state === undefined) {
      state = this.#create(message, now);
    } else {
      // most recently published last (a Map keeps insertion order): what limits evict first and
      // the idle sweep looks at is at the front
      state.used = now;
      this.#states.delete(state.topic);
      this.#states.set(state.topic, state);
      if (this.#kept.delete(state.topic)) this.#kept.set(state.topic, state);
    }
    if (message.epoch !== state.epoch) {
      // a new epoch: what came before cannot be compared with what comes now
      this.#drop(state, state.entries.length - state.head);
      state.epoch = message.epoch;
      state.start = message.seq;
      state.gaps = undefined;
    } else if (message.seq !== state.lastSeq + 1 && state.history > 0) {
      (state.gaps ??= []).push(message.seq);
    }
    state.lastSeq = message.seq;
    if (state.history === 0) return;
    const size = frame.length + ENTRY_OVERHEAD;
    state.entries.push({ seq: message.seq, at: now, frame });
    state.bytes += size;
    this.#bytes += size;
    this.#messages++;
    if (state.entries.length - state.head === 1) this.#kept.set(state.topic, state);
    if (state.entries.length - state.head > state.history) this.#drop(state, 1);
    if (state.gaps !== undefined) {
      const oldest = state.entries[state.head]?.seq ?? state.lastSeq;
      state.gaps = state.gaps.filter((seq) => seq > oldest);
      if (state.gaps.length === 0) state.gaps = undefined;
    }
    if (this.#bytes > this.#limits.bytes) this.#evictBytes();
  }

  /**
   * The messages of `topic` after the id `since`, and whether some were lost; `epoch` is the
   * epoch ids are assigned in now (for topics with nothing known).
   */
  replay(topic: string, since: { epoch: string; seq: number }, epoch: string): Replay {
    const state = this.#states.get(topic);
    if (state === undefined || state.history === 0) {
      if (!this.#options.rules(topic)?.history) return { messages: [], lost: 'history' };
      if (since.epoch !== epoch) return { messages: [], lost: 'epoch' };
      // nothing known: the topic had nothing after `since`, or it was forgotten
      return { messages: [], lost: this.#mayBeForgotten(since) ? 'epoch' : undefined };
    }
    if (state.ttl > 0) this.#expire(state, this.#now());
    const kept = state.entries.slice(state.head);
    if (since.epoch !== state.epoch) return { messages: kept, lost: 'epoch' };
    const messages = kept.filter((k) => k.seq > since.seq);
    const first = messages[0]?.seq ?? state.lastSeq + 1;
    // the first kept message after `since` should be since+1, unless nothing newer exists
    if (since.seq < state.lastSeq && first > since.seq + 1) {
      // before this state's start: a forgotten state of this topic may have ended anywhere
      const unknown = since.seq < state.start - 1 && this.#mayBeForgotten(since);
      return { messages, lost: unknown ? 'epoch' : 'history' };
    }
    const gap = state.gaps?.some((seq) => seq > since.seq + 1) ?? false;
    return { messages, lost: gap ? 'gap' : undefined };
  }

  /** Expires kept messages past their ttl and forgets idle topics; the hub calls it periodically. */
  sweep(): void {
    const now = this.#now();
    for (const state of this.#kept.values()) if (state.ttl > 0) this.#expire(state, now);
    const cutoff = now - this.#limits.idle;
    for (const state of this.#states.values()) {
      if (state.used > cutoff) break; // the rest were published more recently
      if (state.entries.length === state.head) this.#forget(state);
    }
  }

  /**
   * The kept messages of every topic that has some, the least recently published topic first,
   * oldest first within a topic, expired ones left out: a snapshot for a joining hub (Hub.dump).
   */
  *kept(): Generator<{ readonly topic: string; readonly epoch: string; readonly messages: readonly Kept[] }> {
    const now = this.#now();
    for (const state of [...this.#kept.values()]) {
      if (state.ttl > 0) this.#expire(state, now);
      if (state.entries.length > state.head) yield { topic: state.topic, epoch: state.epoch, messages: state.entries.slice(state.head) };
    }
  }

  /** How many topics and messages are held, and their bytes. */
  stats(): HistoryStats {
    return { topics: this.#states.size, messages: this.#messages, bytes: this.#bytes, retained: this.#bytes + this.#topicBytes };
  }

  #create(message: WireMessage, now: number): TopicState {
    const { watch } = this.#options;
    const limits = this.#limits;
    if (this.#states.size >= limits.topics) {
      const oldest = this.#states.values().next().value as TopicState;
      watch.bite('limits.topics', limits.topics, { forgotten: oldest.topic, topic: message.topic });
      this.#forget(oldest);
    }
    const rule = this.#options.rules(message.topic);
    const state: TopicState = {
      topic: message.topic,
      history: rule?.history ?? 0,
      ttl: rule?.ttl ?? 0,
      epoch: message.epoch,
      lastSeq: message.seq - 1,
      start: message.seq,
      entries: [],
      head: 0,
      bytes: 0,
      gaps: undefined,
      used: now,
    };
    this.#states.set(state.topic, state);
    this.#topicBytes += state.topic.length + TOPIC_OVERHEAD;
    return state;
  }

  #forget(state: TopicState): void {
    this.#drop(state, state.entries.length - state.head);
    this.#states.delete(state.topic);
    this.#topicBytes -= state.topic.length + TOPIC_OVERHEAD;
    const forgotten = this.#forgotten.get(state.epoch);
    if (forgotten === undefined) {
      if (this.#forgotten.size >= FORGOTTEN_EPOCHS) this.#forgotten.delete(this.#forgotten.keys().next().value as string);
      this.#forgotten.set(state.epoch, state.lastSeq);
    } else if (state.lastSeq > forgotten) {
      this.#forgotten.set(state.epoch, state.lastSeq);
    }
    this.#options.forgot(state.topic);
  }

  /** Whether the topic `since` names may have been forgotten after `since` (see the class). */
  #mayBeForgotten(since: { epoch: string; seq: number }): boolean {
    const forgotten = this.#forgotten.get(since.epoch);
    return forgotten !== undefined && since.seq <= forgotten;
  }

  #expire(state: TopicState, now: number): void {
    const cutoff = now - state.ttl;
    let drop = 0;
    for (let i = state.head; i < state.entries.length && (state.entries[i] as Kept).at < cutoff; i++) drop++;
    if (drop > 0) this.#drop(state, drop);
  }

  /** Over `limits.historyBytes`: the oldest messages of the least recently published topics go. */
  #evictBytes(): void {
    const limit = this.#limits.bytes;
    let evicted = 0;
    let first: string | undefined;
    for (const state of this.#kept.values()) {
      first ??= state.topic;
      while (this.#bytes > limit && state.entries.length > state.head) {
        this.#drop(state, 1);
        evicted++;
      }
      if (this.#bytes <= limit) break;
    }
    if (evicted > 0) this.#options.watch.bite('limits.historyBytes', limit, { evicted, from: first });
  }

  /** Drops the `count` oldest kept messages of `state`. */
  #drop(state: TopicState, count: number): void {
    if (count <= 0) return;
    const { entries } = state;
    let bytes = 0;
    const end = state.head + count;
    for (let i = state.head; i < end; i++) bytes += (entries[i] as Kept).frame.length + ENTRY_OVERHEAD;
    state.head = end;
    state.bytes -= bytes;
    this.#bytes -= bytes;
    this.#messages -= count;
    if (state.head === entries.length) {
      state.entries = [];
      state.head = 0;
      this.#kept.delete(state.topic);
    } else if (state.head > 64 && state.head * 2 > entries.length) {
      state.entries = entries.slice(state.head);
      state.head = 0;
    }
  }
}
