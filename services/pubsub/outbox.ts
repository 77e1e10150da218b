import type { Duplex } from 'node:stream';
import { BurstJoiner } from './burst.js';

/** The place in line of a reply still being worked out: its frames once the request is answered. */
export interface Reply {
  frames: Buffer[] | undefined;
}

/** Outboxes with frames waiting: flushed together once per event-loop turn. */
const dirty = new Set<Outbox>();
let flushScheduled = false;
const joiner = new BurstJoiner();

function flushAll(): void {
  flushScheduled = false;
  for (const outbox of dirty) outbox.flush(joiner);
  dirty.clear();
  joiner.clear();
}

/**
 * Everything sent to one WebSocket client — messages, acks, errors — in order, written once per
 * event-loop turn: a burst of messages costs one write per connection, and connections with the
 * same run of frames queued share one joined buffer.
 *
 * A request answered later (a publish waiting for the backplane, an auth frame being verified)
 * holds its place in line (`pending()`); whatever comes after it waits behind it (held) until
 * it is answered. `bytes` is what waits for this client, wherever it waits — the number the
 * connection holds against `maxBuffered`.
 */
export class Outbox {
  readonly #socket: Duplex;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  /** Frames and replies waiting behind the oldest unanswered request (empty when none is). */
  #held: (Buffer | Reply)[] = [];
  #heldBytes = 0;
  #settled: (() => void) | undefined;
  #discarded = false;

  constructor(socket: Duplex) {
    this.#socket = socket;
  }

  /** Bytes waiting to be sent: in the socket, queued this turn, held behind a request. */
  get bytes(): number {
    return this.#socket.writableLength + this.#queuedBytes + this.#heldBytes;
  }

  /** Sends `frame` after everything before it: at once, or behind an unanswered request. */
  out(frame: Buffer): void {
    if (this.#held.length === 0) {
      this.#enqueue(frame);
    } else {
      this.#held.push(frame);
      this.#heldBytes += frame.length;
    }
  }

  /** Takes a place in line for the reply of a request answered later (see answer()). */
  pending(): Reply {
    const reply: Reply = { frames: undefined };
    this.#held.push(reply);
    return reply;
  }

  /** Fills a reply's place (no frame: a request without id) and sends what no longer waits. */
  answer(reply: Reply, frame: Buffer | undefined): void {
    reply.frames = frame === undefined ? [] : [frame];
    if (this.#discarded) return;
    const held = this.#held;
    let sent = 0;
    for (; sent < held.length; sent++) {
      const item = held[sent] as Buffer | Reply;
      if (Buffer.isBuffer(item)) {
        this.#heldBytes -= item.length;
        this.#enqueue(item);
      } else if (item.frames === undefined) {
        break;
      } else {
        for (const f of item.frames) this.#enqueue(f);
      }
    }
    held.splice(0, sent);
    const settled = this.#settled;
    if (held.length === 0 && settled !== undefined) {
      this.#settled = undefined;
      settled();
    }
  }

  /** Calls `done` once no reply is owed any more: at once, or after the last answer(). */
  whenSettled(done: () => void): void {
    if (this.#held.length === 0) done();
    else this.#settled = done;
  }

  /**
   * Writes everything queued in one write: a single frame as it is, several joined into one
   * buffer — shared with every other connection that has the same run queued this turn.
   */
  flush(burst?: BurstJoiner): void {
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    this.#queuedBytes = 0;
    const socket = this.#socket;
    if (this.#discarded || socket.destroyed || !socket.writable) return;
    if (queue.length === 1) socket.write(queue[0] as Buffer);
    else socket.write(burst === undefined ? Buffer.concat(queue) : burst.join(queue));
  }

  /** Writes what is queued now, before a close frame; nothing is flushed for it afterwards. */
  flushNow(): void {
    this.flush();
    dirty.delete(this);
  }

  /** Drops everything (the connection is gone). */
  discard(): void {
    this.#discarded = true;
    dirty.delete(this);
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#held = [];
    this.#heldBytes = 0;
    this.#settled = undefined;
  }

  #enqueue(frame: Buffer): void {
    this.#queue.push(frame);
    this.#queuedBytes += frame.length;
    if (this.#queue.length === 1) {
      dirty.add(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAll);
      }
    }
  }
}
