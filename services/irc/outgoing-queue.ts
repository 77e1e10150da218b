import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../src/runtime/clock.js';
import { splitMessage, textBytes } from './split-message.js';
import { TokenBucket } from './token-bucket.js';

/** One line waiting to go out. */
interface QueuedLine {
  readonly command: 'PRIVMSG' | 'NOTICE';
  readonly target: string;
  readonly text: string;
}

/** Writes one raw line to the current connection; false when it is gone (the line stays queued). */
export type LineWriter = (line: string) => boolean;

/** Counters of the outgoing queue. */
export interface QueueStats {
  /** Lines waiting now. */
  readonly queued: number;
  /** Lines written to the server since the service started. */
  readonly sent: number;
  /** Lines dropped: queue full, or left over at stop. */
  readonly dropped: number;
}

/** Options of an OutgoingQueue. */
export interface OutgoingQueueOptions {
  readonly burst: number;
  readonly interval: number;
  readonly maxQueue: number;
  /** The longest nick the bot may have: the prefix the server adds counts against 512 bytes. */
  readonly nickBytes: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/** A channel or a nick: one word, nothing that could end the line or add a target. */
const TARGET = /^[^\s,\0]+$/;

/** How often a run of dropped lines is logged again (the first drop is logged at once). */
const DROP_LOG_EVERY_MS = 10_000;

/**
 * The bot's outgoing PRIVMSG/NOTICE lines: split to fit IRC's 512 bytes, bounded, sent through
 * a token bucket while a connection is attached, kept while none is (across reconnects).
 * What does not fit is dropped, counted and logged (HX_ERR_IRC_QUEUE_FULL).
 */
export class OutgoingQueue {
  readonly #options: OutgoingQueueOptions;
  readonly #bucket: TokenBucket;
  readonly #lines: QueuedLine[] = [];
  #writer: LineWriter | undefined;
  #timer: TimerHandle | undefined;
  #sent = 0;
  #dropped = 0;
  #unloggedDrops = 0;
  #lastDropLog = -Infinity;
  #emptied: (() => void)[] = [];

  constructor(options: OutgoingQueueOptions) {
    this.#options = options;
    this.#bucket = new TokenBucket({ burst: options.burst, interval: options.interval, clock: options.clock });
  }

  /** Queues `text` for `target` (split into lines); returns how many lines were queued. */
  push(command: 'PRIVMSG' | 'NOTICE', target: string, text: string): number {
    if (!TARGET.test(target)) throw new TypeError(`not an IRC target: ${JSON.stringify(target)} (a channel or a nick, without spaces or commas)`);
    const lines = splitMessage(text, textBytes(command, target, this.#options.nickBytes));
    let queued = 0;
    for (const line of lines) {
      if (this.#lines.length >= this.#options.maxQueue) {
        this.#drop(lines.length - queued, target);
        break;
      }
      this.#lines.push({ command, target, text: line });
      queued++;
    }
    if (queued > 0) this.#pump();
    return queued;
  }

  /** Starts sending through `writer` (a connection is ready). */
  attach(writer: LineWriter): void {
    this.#writer = writer;
    this.#pump();
  }

  /** Stops sending (the connection is gone); queued lines wait for the next attach(). */
  detach(): void {
    this.#writer = undefined;
    this.#cancelTimer();
  }

  /** Resolves once nothing is queued, or when `ms` pass or `signal` aborts (whichever is first). */
  drained(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#lines.length === 0 || ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const clock = this.#options.clock;
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

  /** Drops every queued line (at stop), counted and logged; returns how many. */
  clear(reason: string): number {
    this.detach();
    const left = this.#lines.length;
    this.#lines.length = 0;
    if (left > 0) {
      this.#dropped += left;
      this.#options.log.warn({ code: 'HX_ERR_IRC_QUEUE_FULL', dropped: left }, `${left} queued line(s) dropped: ${reason}`);
    }
    this.#flushDropLog();
    for (const done of this.#emptied.splice(0)) done();
    return left;
  }

  /** The counters. */
  stats(): QueueStats {
    return { queued: this.#lines.length, sent: this.#sent, dropped: this.#dropped };
  }

  #pump(): void {
    if (this.#timer !== undefined) return;
    while (this.#writer !== undefined && this.#lines.length > 0) {
      const wait = this.#bucket.take();
      if (wait > 0) {
        this.#timer = this.#options.clock.setTimeout(() => {
          this.#timer = undefined;
          this.#pump();
        }, wait);
        return;
      }
      const line = this.#lines[0] as QueuedLine;
      if (!this.#writer(`${line.command} ${line.target} :${line.text}`)) {
        // the connection went away under us: keep the line for the next one
        this.detach();
        return;
      }
      this.#lines.shift();
      this.#sent++;
    }
    if (this.#lines.length === 0) for (const done of this.#emptied.splice(0)) done();
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #drop(count: number, target: string): void {
    this.#dropped += count;
    this.#unloggedDrops += count;
    const now = this.#options.clock.now();
    if (now - this.#lastDropLog < DROP_LOG_EVERY_MS) return;
    this.#lastDropLog = now;
    const dropped = this.#unloggedDrops;
    this.#unloggedDrops = 0;
    this.#options.log.warn(
      { code: 'HX_ERR_IRC_QUEUE_FULL', dropped, target, maxQueue: this.#options.maxQueue, droppedTotal: this.#dropped },
      `outgoing queue full (${this.#options.maxQueue} lines): ${dropped} line(s) dropped`,
    );
  }

  #flushDropLog(): void {
    if (this.#unloggedDrops === 0) return;
    this.#options.log.warn({ code: 'HX_ERR_IRC_QUEUE_FULL', dropped: this.#unloggedDrops, droppedTotal: this.#dropped }, `outgoing queue full: ${this.#unloggedDrops} more line(s) dropped`);
    this.#unloggedDrops = 0;
    this.#lastDropLog = -Infinity;
  }
}
