import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { mayPublish, maySubscribe, type Authenticator, type Grant } from './auth.js';
import { BurstJoiner } from './burst.js';
import type { WireMessage } from './backplane.js';
import { jsonFrame } from './frame.js';
import { parseMessageId } from './history.js';
import { PublishRefused, type Hub, type Subscriber } from './hub.js';
import { checkPattern, checkTopic } from '../../src/net/topics.js';

/** What a connection needs from its hub service. */
export interface ConnectionHost {
  readonly hub: Hub;
  readonly auth: Authenticator;
  readonly log: Logger;
  readonly maxSubscriptions: number;
  readonly maxBuffered: number;
  readonly slowConsumer: 'drop' | 'close';
  /** Called once when the connection is gone. */
  closed(connection: Connection): void;
}

/** Error frame codes (docs/pubsub-protocol.md lists them). */
export type ErrorCode =
  | 'bad_json'
  | 'bad_frame'
  | 'unknown_type'
  | 'bad_topic'
  | 'bad_since'
  | 'unauthorized'
  | 'forbidden'
  | 'invalid_data'
  | 'too_many_subscriptions'
  | 'not_subscribed'
  | 'unavailable';

/** Outboxes with frames waiting: flushed together once per event-loop turn. */
const dirty = new Set<Connection>();
let flushScheduled = false;
const joiner = new BurstJoiner();

function flushAll(): void {
  flushScheduled = false;
  for (const connection of dirty) connection.flush(joiner);
  dirty.clear();
  joiner.clear();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function errorFrame(code: ErrorCode, message: string, id: unknown): Record<string, unknown> {
  return id === undefined ? { type: 'error', code, message } : { type: 'error', code, message, id };
}

/** The place in line of a reply still being worked out: its frames once the request is answered. */
interface Reply {
  frames: Buffer[] | undefined;
}

/**
 * One WebSocket client of the hub: it parses the client's frames, checks every request
 * against its grant, and receives messages. Everything sent to it — messages, acks, errors —
 * goes through one outbox, in order, written once per event-loop turn: a burst of messages
 * costs one write per connection, and subscribers share the same frame bytes.
 *
 * Replies come in request order: a request answered later (a publish waiting for the
 * backplane, an auth frame being verified) holds its place in line, and whatever comes after
 * it — later replies, messages — waits behind it. Requests after an auth frame wait for the
 * grant it gives.
 */
export class Connection implements Subscriber {
  readonly #ws: WebSocket;
  readonly #socket: Duplex;
  readonly #host: ConnectionHost;
  /** The hub of the start that accepted this connection (a close may come after a stop). */
  readonly #hub: Hub;
  readonly #patterns = new Set<string>();
  #grant: Grant;
  #queue: Buffer[] = [];
  /** Frames and replies waiting behind the oldest unanswered request (empty when none is). */
  #held: (Buffer | Reply)[] = [];
  #heldBytes = 0;
  /** Frames received while an auth frame is verified, handled with the grant it gives. */
  #waiting: { data: Buffer; isBinary: boolean }[] | undefined;
  /** A close asked for while replies were still owed: sent after them. */
  #closeWith: { code: number; reason: string } | undefined;
  #authTimer: NodeJS.Timeout | undefined;
  #gone = false;
  #closing = false;
  /** Whether the last ping was answered (heartbeat). */
  alive = true;
  /** The last fan-out that reached this connection (set by the hub). */
  stamp = 0;

  constructor(ws: WebSocket, socket: Duplex, grant: Grant, host: ConnectionHost, options: { needsAuth: boolean }) {
    this.#ws = ws;
    this.#socket = socket;
    this.#grant = grant;
    this.#host = host;
    this.#hub = host.hub;
    ws.on('message', (data, isBinary) => this.#receive(data as Buffer, isBinary));
    ws.on('pong', () => (this.alive = true));
    // ws closes with 1009 on an oversize frame and 1002/1007 on a broken one, and emits
    // 'error' first: without a listener that error would crash the process
    ws.on('error', (error) => host.log.debug({ err: error, grant: this.#grant.name }, 'client connection error'));
    ws.on('close', () => this.#cleanup());
    if (options.needsAuth && host.auth.authTimeout > 0) {
      this.#authTimer = setTimeout(() => {
        this.#error('unauthorized', 'no auth frame in time');
        this.close(1008, 'authentication timeout');
      }, host.auth.authTimeout);
    }
  }

  /** Who the connection is, for logs. */
  get name(): string {
    return this.#grant.name;
  }

  /** How many patterns the connection is subscribed to. */
  get subscriptions(): number {
    return this.#patterns.size;
  }

  /** Queues a published message (Subscriber). */
  deliver(_message: WireMessage, frame: Buffer): void {
    if (this.#gone || this.#closing) return;
    if (this.#socket.writableLength + this.#heldBytes > this.#host.maxBuffered) {
      this.#hub.stats.dropped++;
      if (this.#host.slowConsumer === 'close') {
        this.#host.log.warn({ grant: this.#grant.name, buffered: this.#socket.writableLength }, 'slow consumer closed');
        this.close(1008, 'slow consumer');
      }
      return;
    }
    this.#out(frame);
  }

  /** Sends `frame` after everything before it: at once, or behind an unanswered request. */
  #out(frame: Buffer): void {
    if (this.#held.length === 0) {
      this.#enqueue(frame);
    } else {
      this.#held.push(frame);
      this.#heldBytes += frame.length;
    }
  }

  /** Takes a place in line for the reply of a request answered later (see #answer). */
  #pending(): Reply {
    const reply: Reply = { frames: undefined };
    this.#held.push(reply);
    return reply;
  }

  /** Fills a reply's place (no frame: a request without id) and sends what no longer waits. */
  #answer(reply: Reply, message: Record<string, unknown> | undefined): void {
    reply.frames = message === undefined ? [] : [jsonFrame(message)];
    if (this.#gone) return;
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
        for (const frame of item.frames) this.#enqueue(frame);
      }
    }
    held.splice(0, sent);
    const close = this.#closeWith;
    if (held.length === 0 && close !== undefined) {
      this.#closeWith = undefined;
      this.#closeNow(close.code, close.reason);
    }
  }

  #enqueue(frame: Buffer): void {
    this.#queue.push(frame);
    if (this.#queue.length === 1) {
      dirty.add(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAll);
      }
    }
  }

  #send(message: Record<string, unknown>): void {
    this.#out(jsonFrame(message));
  }

  /**
   * Writes everything queued in one write: a single frame as it is, several joined into one
   * buffer — shared with every other connection that has the same run queued this turn.
   */
  flush(burst?: BurstJoiner): void {
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    const socket = this.#socket;
    if (this.#gone || socket.destroyed || !socket.writable) return;
    if (queue.length === 1) socket.write(queue[0] as Buffer);
    else socket.write(burst === undefined ? Buffer.concat(queue) : burst.join(queue));
  }

  /** Sends a ping; a client that did not answer the previous one is terminated. */
  heartbeat(): void {
    if (!this.alive) {
      this.#host.log.debug({ grant: this.#grant.name }, 'dead client terminated');
      this.#ws.terminate();
      return;
    }
    this.alive = false;
    this.#ws.ping();
  }

  /**
   * Flushes what is queued and closes with `code` (1001 at stop); replies still owed (a
   * publish waiting for the backplane) go out first. Requests received from now on are ignored.
   */
  close(code: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#waiting = undefined;
    if (this.#held.length > 0) this.#closeWith = { code, reason };
    else this.#closeNow(code, reason);
  }

  #closeNow(code: number, reason: string): void {
    this.flush();
    dirty.delete(this);
    this.#ws.close(code, reason);
  }

  /** Destroys the connection (forced stop). */
  terminate(): void {
    this.#ws.terminate();
  }

  #cleanup(): void {
    if (this.#gone) return;
    this.#gone = true;
    clearTimeout(this.#authTimer);
    dirty.delete(this);
    this.#queue = [];
    this.#held = [];
    this.#heldBytes = 0;
    this.#waiting = undefined;
    for (const pattern of this.#patterns) this.#hub.unsubscribe(pattern, this);
    this.#patterns.clear();
    this.#host.closed(this);
  }

  #error(code: ErrorCode, message: string, id?: unknown): void {
    this.#send(errorFrame(code, message, id));
  }

  #ack(id: unknown, extra: Record<string, unknown> = {}): void {
    if (id !== undefined) this.#send({ type: 'ack', id, ...extra });
  }

  #receive(data: Buffer, isBinary: boolean): void {
    if (this.#closing) return;
    if (this.#waiting !== undefined) {
      this.#waiting.push({ data, isBinary });
      return;
    }
    if (isBinary) return this.#error('bad_frame', 'frames are JSON text');
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString('utf8'));
    } catch {
      return this.#error('bad_json', 'the frame is not valid JSON');
    }
    if (!isObject(frame)) return this.#error('bad_frame', 'a frame is a JSON object with a "type"');
    const id = frame['id'];
    if (id !== undefined && typeof id !== 'string' && typeof id !== 'number') return this.#error('bad_frame', '"id" is a string or a number');
    switch (frame['type']) {
      case 'subscribe':
        return this.#subscribe(frame, id);
      case 'unsubscribe':
        return this.#unsubscribe(frame, id);
      case 'publish':
        return void this.#publish(frame, id);
      case 'auth':
        return void this.#auth(frame, id);
      case 'ping':
        return this.#send(id === undefined ? { type: 'pong' } : { type: 'pong', id });
      default:
        return this.#error('unknown_type', `unknown frame type ${JSON.stringify(frame['type'])}; expected subscribe, unsubscribe, publish, auth or ping`, id);
    }
  }

  #subscribe(frame: Record<string, unknown>, id: unknown): void {
    const pattern = frame['topic'];
    const bad = checkPattern(pattern);
    if (bad !== undefined) return this.#error('bad_topic', bad, id);
    const topic = pattern as string;
    if (!maySubscribe(this.#grant, topic)) return this.#error(this.#grant.name === 'anonymous' && this.#host.auth.enabled ? 'unauthorized' : 'forbidden', `not allowed to subscribe to ${topic}`, id);
    const since = frame['since'];
    let parsedSince: { epoch: string; seq: number } | undefined;
    if (since !== undefined) {
      parsedSince = parseMessageId(since);
      if (parsedSince === undefined) return this.#error('bad_since', '"since" is a message id "<epoch>:<seq>"', id);
      if (checkTopic(topic) !== undefined) return this.#error('bad_since', '"since" needs an exact topic, not a pattern', id);
    }
    if (!this.#patterns.has(topic) && this.#patterns.size >= this.#host.maxSubscriptions) {
      return this.#error('too_many_subscriptions', `at most ${this.#host.maxSubscriptions} subscriptions per connection`, id);
    }
    // replay first, then subscribe: nothing arrives between the two (both happen in this turn)
    let extra: Record<string, unknown> = {};
    if (parsedSince !== undefined) {
      const replay = this.#hub.replay(topic, parsedSince);
      for (const kept of replay.messages) this.#out(kept.frame);
      extra = { replayed: replay.messages.length, ...(replay.lost ? { lost: replay.lost } : {}) };
    }
    this.#patterns.add(topic);
    this.#hub.subscribe(topic, this);
    this.#ack(id, extra);
  }

  #unsubscribe(frame: Record<string, unknown>, id: unknown): void {
    const pattern = frame['topic'];
    if (typeof pattern !== 'string' || !this.#patterns.delete(pattern)) return this.#error('not_subscribed', `not subscribed to ${JSON.stringify(pattern)}`, id);
    this.#hub.unsubscribe(pattern, this);
    this.#ack(id);
  }

  async #publish(frame: Record<string, unknown>, id: unknown): Promise<void> {
    const topic = frame['topic'];
    const bad = checkTopic(topic);
    if (bad !== undefined) return this.#error('bad_topic', bad, id);
    if (!('data' in frame)) return this.#error('bad_frame', 'a publish carries "data"', id);
    if (!mayPublish(this.#grant, topic as string)) return this.#error(this.#grant.name === 'anonymous' && this.#host.auth.enabled ? 'unauthorized' : 'forbidden', `not allowed to publish on ${String(topic)}`, id);
    const reply = this.#pending();
    try {
      const message = await this.#hub.publish(topic as string, frame['data']);
      this.#answer(reply, id === undefined ? undefined : { type: 'ack', id, messageId: message.id });
    } catch (error) {
      if (error instanceof PublishRefused) this.#answer(reply, errorFrame(error.code, error.message, id));
      else this.#answer(reply, errorFrame('unavailable', 'the hub cannot publish now', id));
    }
  }

  async #auth(frame: Record<string, unknown>, id: unknown): Promise<void> {
    clearTimeout(this.#authTimer);
    const token = frame['token'];
    const reply = this.#pending();
    this.#waiting = [];
    const grant = typeof token === 'string' && token.length > 0 ? await this.#host.auth.verify(token).catch(() => undefined) : undefined;
    const waiting = this.#waiting ?? [];
    this.#waiting = undefined;
    if (grant === undefined) {
      this.#answer(reply, errorFrame('unauthorized', 'invalid token', id));
      this.close(1008, 'invalid token');
      return;
    }
    this.#grant = grant;
    this.#answer(reply, id === undefined ? undefined : { type: 'ack', id });
    // what the client sent after its auth frame, in order, with the grant it asked for
    for (const frame of waiting) this.#receive(frame.data, frame.isBinary);
  }
}
