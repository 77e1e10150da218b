import { constants } from 'node:os';
import type { Logger } from 'pino';
import { systemClock, type Clock, type TimerHandle } from '../../src/runtime/clock.js';
import type { AddonError, RawSocket } from './addon.js';

/** The most frames one sendmmsg() takes (the addon's limit). */
const BATCH = 256;
/** How long to wait after ENOBUFS (a full device queue) before trying again. */
const NOBUFS_RETRY_MS = 1;
/** Warnings about dropped frames are logged at most this often, with the count since the last one. */
const WARN_EVERY_MS = 5_000;

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/** The name of an errno number: 11 → 'EAGAIN'. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** Counts of a sender since it was made. */
export interface SenderStats {
  /** Frames the kernel took. */
  readonly sent: number;
  /** Frames dropped: queue full, interface down, too big, or left at a forced stop. */
  readonly dropped: number;
  /** Frames waiting now. */
  readonly queued: number;
}

/** What a FrameSender needs. */
export interface FrameSenderOptions {
  readonly socket: RawSocket;
  /** Frames per second, from every source together. */
  readonly maxRate: number;
  /** Frames that may wait; more are dropped. */
  readonly maxQueue: number;
  readonly log: Logger;
  /** Called once when a send fails in a way the service cannot go on from (the interface is gone...). */
  readonly fail: (error: AddonError) => void;
  readonly clock?: Clock;
}

/**
 * The send path of a raw service: a bounded queue drained in batches (sendmmsg) within a token
 * bucket of `maxRate` frames per second (a burst of a tenth of a second). A full socket buffer
 * (EAGAIN) waits until the socket is writable; nothing ever blocks the event loop.
 */
export class FrameSender {
  readonly #o: FrameSenderOptions;
  readonly #clock: Clock;
  #maxRate: number;
  #maxQueue: number;
  #burst: number;
  #queue: Buffer[] = [];
  #head = 0;
  #tokens: number;
  #refilled: number;
  #immediate: NodeJS.Immediate | undefined;
  #timer: TimerHandle | undefined;
  #waitingWritable = false;
  #closed = false;
  #failed = false;
  #down = false;
  #sent = 0;
  #dropped = 0;
  readonly #drops = new Map<string, { count: number; logged: number }>();
  #drained: (() => void)[] = [];

  constructor(options: FrameSenderOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#maxRate = options.maxRate;
    this.#maxQueue = options.maxQueue;
    this.#burst = burstOf(options.maxRate);
    this.#tokens = this.#burst;
    this.#refilled = this.#clock.now();
  }

  /**
   * Applies new limits (a reload): the time since the last refill still counts at the old
   * rate, the bucket is capped at the new burst, frames already queued stay queued.
   */
  setLimits(limits: { readonly maxRate: number; readonly maxQueue: number }): void {
    this.#refill();
    this.#maxRate = limits.maxRate;
    this.#maxQueue = limits.maxQueue;
    this.#burst = burstOf(limits.maxRate);
    this.#tokens = Math.min(this.#tokens, this.#burst);
  }

  /** Frames waiting to be sent. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Counts since the sender was made. */
  stats(): SenderStats {
    return { sent: this.#sent, dropped: this.#dropped, queued: this.queued };
  }

  /** Queues a frame; false (and a warning) when the queue is full or the sender is closed. */
  enqueue(frame: Buffer): boolean {
    if (this.#closed || this.#failed) return false;
    if (this.queued >= this.#maxQueue) {
      this.#drop('HX_ERR_RAW_QUEUE_FULL', 'frames dropped: the send queue is full', { maxQueue: this.#maxQueue, maxRate: this.#maxRate });
      return false;
    }
    this.#queue.push(frame);
    this.#schedule();
    return true;
  }

  /** Resolves once the queue is empty; when `signal` aborts, drops what is left and resolves. */
  drain(signal: AbortSignal): Promise<void> {
    if (this.queued === 0 || this.#closed || this.#failed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', forced);
        resolve();
      };
      const forced = (): void => {
        this.#drained = this.#drained.filter((d) => d !== done);
        const left = this.queued;
        if (left > 0) this.#o.log.warn({ dropped: left }, 'stop forced: queued frames dropped');
        this.#dropped += left;
        this.#reset();
        resolve();
      };
      if (signal.aborted) return forced();
      signal.addEventListener('abort', forced, { once: true });
      this.#drained.push(done);
    });
  }

  /** Drops the queue and cancels every timer; the socket is the caller's to close. */
  close(): void {
    this.#closed = true;
    this.#dropped += this.queued;
    this.#reset();
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#settle();
  }

  #schedule(): void {
    if (this.#immediate !== undefined || this.#timer !== undefined || this.#waitingWritable) return;
    this.#immediate = setImmediate(() => {
      this.#immediate = undefined;
      this.#flush();
    });
  }

  #later(ms: number): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, ms);
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilled) * this.#maxRate) / 1000);
    this.#refilled = now;
  }

  #flush(): void {
    if (this.#closed || this.#failed) return;
    this.#refill();
    const { socket } = this.#o;
    while (this.queued > 0) {
      const allowed = Math.floor(this.#tokens);
      if (allowed < 1) return this.#later(Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.#maxRate)));
      const n = Math.min(allowed, this.queued, BATCH);
      const result = n === 1 ? oneSent(socket.send(this.#queue[this.#head] as Buffer)) : socket.sendBatch(this.#queue, this.#head, n);
      if (result > 0) {
        this.#consume(result);
        this.#tokens -= result;
        this.#sent += result;
        if (this.#down) {
          this.#down = false;
          this.#o.log.info('sending again');
        }
        continue;
      }
      const code = errnoName(-result);
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return this.#waitWritable();
      if (code === 'ENOBUFS') return this.#later(NOBUFS_RETRY_MS);
      if (code === 'ENETDOWN') {
        // the link went down: frames are dropped (not queued) until it is back
        this.#consume(1);
        if (!this.#down) {
          this.#down = true;
          this.#o.log.warn({ code: 'HX_ERR_RAW_INTERFACE_DOWN' }, 'interface is down: frames are dropped until it is up');
        }
        this.#dropped += 1;
        continue;
      }
      if (code === 'EMSGSIZE') {
        const frame = this.#queue[this.#head] as Buffer;
        this.#consume(1);
        this.#drop('HX_ERR_RAW_FRAME_TOO_BIG', 'frame dropped: larger than the interface MTU', { bytes: frame.length });
        continue;
      }
      this.#failed = true;
      this.#dropped += this.queued;
      this.#reset();
      this.#o.fail(Object.assign(new Error(`send: ${code}`), { code, errno: -result, syscall: 'send' }));
      return;
    }
    this.#settle();
  }

  #waitWritable(): void {
    this.#waitingWritable = true;
    this.#o.socket.waitWritable((error) => {
      this.#waitingWritable = false;
      if (error !== undefined && !this.#closed) {
        this.#failed = true;
        this.#o.fail(error);
        return;
      }
      this.#flush();
    });
  }

  #consume(n: number): void {
    this.#head += n;
    if (this.#head >= this.#queue.length) this.#reset();
    else if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #reset(): void {
    this.#queue = [];
    this.#head = 0;
  }

  #settle(): void {
    if (this.queued > 0) return;
    for (const done of this.#drained.splice(0)) done();
  }

  /** Counts a dropped frame and warns, at most every few seconds per reason, with the count. */
  #drop(code: string, message: string, data: Record<string, unknown>): void {
    this.#dropped += 1;
    const now = this.#clock.now();
    const seen = this.#drops.get(code);
    if (seen === undefined || now - seen.logged >= WARN_EVERY_MS) {
      this.#o.log.warn({ code, ...data, dropped: (seen?.count ?? 0) + 1 }, message);
      this.#drops.set(code, { count: 0, logged: now });
    } else seen.count += 1;
  }
}

/** A tenth of a second's worth of frames, at least one. */
function burstOf(maxRate: number): number {
  return Math.max(1, Math.ceil(maxRate / 10));
}

function oneSent(result: number): number {
  return result >= 0 ? 1 : result;
}
