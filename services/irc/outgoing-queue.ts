import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../src/runtime/clock.js';
import { splitMessage, textBytes } from './split-message.js';
import { ThrottledWarning } from './throttled-warning.js';
import { TokenBucket } from './token-bucket.js';

/**
 * Where a line comes from, which decides how long it may wait. `'relay'`: channel content (a
 * hub relay, the handle's say() to a channel), kept across reconnects for up to relayMaxAge.
 * `{ session }`: an answer to someone on one connection (a command reply, a CTCP reply), with
 * the number of the connection it answers (`queue.session` when the request arrived); it goes
 * out on that connection or never. A relay line to a nick is an answer of the current one.
 */
export type LineOrigin = 'relay' | { readonly session: number };

/** One line waiting to go out. */
interface QueuedLine {
  readonly command: 'PRIVMSG' | 'NOTICE';
  readonly target: string;
  readonly text: string;
  /** When it was queued (clock ms). */
  readonly at: number;
}

/** Writes one raw line to the current connection; false when it is gone. */
export type LineWriter = (line: string) => boolean;

/** Counters of the outgoing queue. */
export interface QueueStats {
  /** Lines waiting now (relayed lines and replies). */
  readonly queued: number;
  /** Lines written to the server since the service started. */
  readonly sent: number;
  /** Lines that will never go out, for any reason (the three below, a full queue, stop). */
  readonly dropped: number;
  /** Of those: relayed lines older than `relayMaxAge` when their turn came. */
  readonly expired: number;
  /** Of those: replies whose connection was gone (dropped at disconnect, or answered too late). */
  readonly orphaned: number;
}

/** Options of an OutgoingQueue. */
export interface OutgoingQueueOptions {
  readonly burst: number;
  readonly interval: number;
  readonly maxQueue: number;
  /** The oldest a relayed line may be when it goes out (ms; 0: no limit). */
  readonly relayMaxAge: number;
  /** The longest nick the bot may have: the prefix the server adds counts against 512 bytes. */
  readonly nickBytes: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/** A channel or a nick: one word, nothing that could end the line or add a target. */
const TARGET = /^[^\s,\0]+$/;
/** What starts a channel name (RFC 2811); anything else is a nick. */
const CHANNEL_START = /^[#&!+]/;

/**
 * The bot's outgoing PRIVMSG/NOTICE lines, in two lanes that share one token bucket and
 * `maxQueue`. Relayed channel lines go first, always: they are never stuck behind replies,
 * they wait across reconnects, and they are dropped once older than `relayMaxAge`. Replies
 * belong to the connection they answer: dropped when it goes, never sent to the next server
 * (where the same nick may be someone else). When the queue is full a relayed line pushes
 * out the oldest reply; a reply finding it full is dropped. Every drop is counted and logged.
 */
export class OutgoingQueue {
  #o: OutgoingQueueOptions;
  readonly #bucket: TokenBucket;
  readonly #relayed: QueuedLine[] = [];
  readonly #replies: QueuedLine[] = [];
  readonly #full: ThrottledWarning;
  readonly #expired: ThrottledWarning;
  #writer: LineWriter | undefined;
  #session = 0;
  #timer: TimerHandle | undefined;
  #sent = 0;
  #dropped = 0;
  #orphaned = 0;
  #emptied: (() => void)[] = [];

  constructor(options: OutgoingQueueOptions) {
    this.#o = options;
    this.#bucket = new TokenBucket({ burst: options.burst, interval: options.interval, clock: options.clock });
    const { log, clock } = options;
    this.#full = new ThrottledWarning({ log, clock, code: 'HX_ERR_IRC_QUEUE_FULL', message: (n) => `outgoing queue full (${this.#o.maxQueue} lines): ${n} line(s) dropped` });
    this.#expired = new ThrottledWarning({ log, clock, code: 'HX_ERR_IRC_RELAY_EXPIRED', message: (n) => `${n} relayed line(s) older than relayMaxAge (${this.#o.relayMaxAge} ms) dropped` });
  }

  /**
   * Changes the limits (a reload), keeping what is queued: the rate applies from the next line
   * on; a smaller `maxQueue` refuses new lines until the queue is below it.
   */
  configure(limits: Pick<OutgoingQueueOptions, 'burst' | 'interval' | 'maxQueue' | 'relayMaxAge' | 'nickBytes'>): void {
    const { burst, interval, maxQueue, relayMaxAge, nickBytes } = limits;
    this.#o = { ...this.#o, burst, interval, maxQueue, relayMaxAge, nickBytes };
    this.#bucket.configure({ burst, interval });
    // a line waiting for a token of the old rate may go now
    this.#cancelTimer();
    this.#pump();
  }

  /** The number of the connection attached now; undefined while none is. */
  get session(): number | undefined {
    return this.#writer === undefined ? undefined : this.#session;
  }

  /** Queues `text` for `target` (split into lines); returns how many lines were queued. */
  push(command: 'PRIVMSG' | 'NOTICE', target: string, text: string, origin: LineOrigin): number {
    if (!TARGET.test(target)) throw new TypeError(`not an IRC target: ${JSON.stringify(target)} (a channel or a nick, without spaces or commas)`);
    const lines = splitMessage(text, textBytes(command, target, this.#o.nickBytes));
    const relayed = origin === 'relay' && CHANNEL_START.test(target);
    const session = origin === 'relay' ? this.session : origin.session;
    if (!relayed && (session === undefined || session !== this.session)) {
      // the connection it answers is gone: on another one the nick may be someone else
      this.#orphaned += lines.length;
      this.#dropped += lines.length;
      this.#o.log.debug({ target, lines: lines.length }, 'reply after its connection was gone: dropped');
      return 0;
    }
    const now = this.#o.clock.now();
    if (relayed) this.#expire(now);
    let queued = 0;
    for (const text of lines) {
      if (this.#relayed.length + this.#replies.length >= this.#o.maxQueue) {
        if (!relayed || this.#replies.length === 0) {
          this.#dropFull(lines.length - queued, target);
          break;
        }
        // a relayed line never waits for room behind replies: the oldest reply makes it
        const pushedOut = this.#replies.shift() as QueuedLine;
        this.#dropFull(1, pushedOut.target);
      }
      (relayed ? this.#relayed : this.#replies).push({ command, target, text, at: now });
      queued++;
    }
    if (queued > 0) this.#pump();
    return queued;
  }

  /** Starts sending through `writer`: a new connection is ready (its session number is new). */
  attach(writer: LineWriter): void {
    if (this.#writer !== undefined) this.detach();
    this.#session++;
    this.#writer = writer;
    this.#pump();
  }

  /** The connection is gone: its replies are dropped (counted, logged once); relayed lines wait for the next attach(). */
  detach(): void {
    this.#writer = undefined;
    this.#cancelTimer();
    const orphaned = this.#replies.length;
    if (orphaned === 0) return;
    this.#replies.length = 0;
    this.#orphaned += orphaned;
    this.#dropped += orphaned;
    this.#o.log.info({ dropped: orphaned, kept: this.#relayed.length }, `${orphaned} reply line(s) dropped with their connection (relayed lines are kept)`);
    this.#wakeIfEmpty();
  }

  /** Resolves once nothing is queued, or when `ms` pass or `signal` aborts (whichever is first). */
  drained(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#size === 0 || ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const clock = this.#o.clock;
      const done = (): void => {
        clock.clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#emptied = this.#emptied.filter((f) => f !== done);
        resolve();
      };
      const timer = clock.setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#emptied.push(done);
    });
  }

  /** Stops sending and drops every queued line (at stop), counted and logged; returns how many. */
  clear(reason: string): number {
    this.#writer = undefined;
    this.#cancelTimer();
    const left = this.#size;
    this.#relayed.length = 0;
    this.#replies.length = 0;
    if (left > 0) {
      this.#dropped += left;
      this.#o.log.warn({ code: 'HX_ERR_IRC_QUEUE_FULL', dropped: left }, `${left} queued line(s) dropped: ${reason}`);
    }
    this.#full.flush();
    this.#expired.flush();
    this.#wakeIfEmpty();
    return left;
  }

  /** The counters. */
  stats(): QueueStats {
    return { queued: this.#size, sent: this.#sent, dropped: this.#dropped, expired: this.#expired.total, orphaned: this.#orphaned };
  }

  get #size(): number {
    return this.#relayed.length + this.#replies.length;
  }

  #pump(): void {
    if (this.#timer !== undefined) return;
    while (this.#writer !== undefined) {
      this.#expire(this.#o.clock.now());
      // relayed lines first: an alert never waits behind answers to whoever asked the most
      const lane = this.#relayed.length > 0 ? this.#relayed : this.#replies;
      const line = lane[0];
      if (line === undefined) break;
      const wait = this.#bucket.take();
      if (wait > 0) {
        this.#timer = this.#o.clock.setTimeout(() => {
          this.#timer = undefined;
          this.#pump();
        }, wait);
        return;
      }
      if (!this.#writer(`${line.command} ${line.target} :${line.text}`)) {
        // the connection went away under us: a relayed line waits for the next one
        this.detach();
        return;
      }
      lane.shift();
      this.#sent++;
    }
    this.#wakeIfEmpty();
  }

  /** Drops the relayed lines at the front that are older than relayMaxAge (they are in queueing order). */
  #expire(now: number): void {
    const maxAge = this.#o.relayMaxAge;
    if (maxAge <= 0) return;
    let count = 0;
    while (this.#relayed.length > 0 && now - (this.#relayed[0] as QueuedLine).at > maxAge) {
      this.#relayed.shift();
      count++;
    }
    if (count === 0) return;
    this.#dropped += count;
    this.#expired.add(count, { relayMaxAge: maxAge });
  }

  #dropFull(count: number, target: string): void {
    this.#dropped += count;
    this.#full.add(count, { target, maxQueue: this.#o.maxQueue });
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #wakeIfEmpty(): void {
    if (this.#size === 0) for (const done of this.#emptied.splice(0)) done();
  }
}
