import type { WireMessage } from './backplane.js';

/** What a `since` replay found. */
export interface Replay {
  /** The kept messages after `since`, oldest first, each with its frame. */
  readonly messages: readonly Kept[];
  /** Why some messages after `since` cannot be replayed, or undefined when none were lost. */
  readonly lost: 'epoch' | 'history' | 'gap' | undefined;
}

/** A kept message and its ready-made frame. */
export interface Kept {
  readonly message: WireMessage;
  readonly frame: Buffer;
}

interface TopicLog {
  readonly limit: number;
  readonly ttl: number;
  entries: Kept[];
  /** Seqs before which a message never arrived here (a backplane outage, another node's epoch). */
  gaps: number[];
  epoch: string;
  lastSeq: number;
}

/** Parses `<epoch>:<seq>`; undefined when malformed. */
export function parseMessageId(id: unknown): { epoch: string; seq: number } | undefined {
  if (typeof id !== 'string') return undefined;
  const at = id.lastIndexOf(':');
  if (at <= 0) return undefined;
  const seq = Number(id.slice(at + 1));
  if (!Number.isSafeInteger(seq) || seq < 0) return undefined;
  return { epoch: id.slice(0, at), seq };
}

/**
 * The recent messages of each topic whose config keeps history, for `since` replays: a
 * bounded list per topic, pruned by count and age. It notices when ids skip (a message this
 * node never saw) or the epoch changes, so a replay can say that something was lost rather
 * than pretend it is complete.
 */
export class History {
  readonly #logs = new Map<string, TopicLog>();
  readonly #limits: (topic: string) => { history: number; ttl: number } | undefined;
  readonly #now: () => number;

  constructor(limits: (topic: string) => { history: number; ttl: number } | undefined, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Keeps `message` when its topic keeps history. */
  record(message: WireMessage, frame: Buffer): void {
    let log = this.#logs.get(message.topic);
    if (log === undefined) {
      const limits = this.#limits(message.topic);
      if (limits === undefined || limits.history === 0) return;
      log = { limit: limits.history, ttl: limits.ttl, entries: [], gaps: [], epoch: message.epoch, lastSeq: message.seq - 1 };
      this.#logs.set(message.topic, log);
    }
    if (message.epoch !== log.epoch) {
      // a new epoch: what came before cannot be compared with what comes now
      log.epoch = message.epoch;
      log.entries = [];
      log.gaps = [];
    } else if (message.seq !== log.lastSeq + 1) {
      log.gaps.push(message.seq);
    }
    log.lastSeq = message.seq;
    log.entries.push({ message, frame });
    if (log.entries.length > log.limit) log.entries.splice(0, log.entries.length - log.limit);
    if (log.gaps.length > 0 && log.entries[0] !== undefined) {
      const oldest = log.entries[0].message.seq;
      log.gaps = log.gaps.filter((seq) => seq > oldest);
    }
  }

  /**
   * The messages of `topic` after the id `since`, and whether some were lost; `epoch` is the
   * epoch ids are assigned in now (for topics with nothing kept yet).
   */
  replay(topic: string, since: { epoch: string; seq: number }, epoch: string): Replay {
    const log = this.#logs.get(topic);
    if (log === undefined) {
      if (!this.#limits(topic)?.history) return { messages: [], lost: 'history' };
      return { messages: [], lost: since.epoch === epoch ? undefined : 'epoch' };
    }
    this.#expire(log);
    if (since.epoch !== log.epoch) return { messages: log.entries, lost: 'epoch' };
    const messages = log.entries.filter((k) => k.message.seq > since.seq);
    const first = messages[0]?.message.seq ?? log.lastSeq + 1;
    // the first kept message after `since` should be since+1, unless nothing newer exists
    const missingHead = since.seq < log.lastSeq && first > since.seq + 1;
    const gap = log.gaps.some((seq) => seq > since.seq + 1);
    return { messages, lost: missingHead ? 'history' : gap ? 'gap' : undefined };
  }

  #expire(log: TopicLog): void {
    if (log.ttl <= 0) return;
    const cutoff = this.#now() - log.ttl;
    let drop = 0;
    while (drop < log.entries.length && (log.entries[drop] as Kept).message.ts < cutoff) drop++;
    if (drop > 0) log.entries.splice(0, drop);
  }
}
