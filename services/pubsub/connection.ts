import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { mayPublish, maySubscribe, verifyCurrent, type Authenticator, type Grant } from './auth.js';
import type { WireMessage } from './backplane.js';
import { errorFrame, idOf, isObject, type ErrorCode } from './error-frame.js';
import { jsonFrame } from './frame.js';
import { parseMessageId } from './history.js';
import { PublishRefused, type Hub, type Subscriber } from './hub.js';
import { MAX_DEPTH, nestedDeeperThan } from './json-depth.js';
import { PublishBucket } from './limits.js';
import { Outbox, type Reply } from './outbox.js';
import { checkPattern, checkTopic } from '../../src/net/topics.js';

/**
 * What a connection needs from its hub service. Its values are read at each use: a reload
 * changes them (auth, limits) for the connections already open.
 */
export interface ConnectionHost {
  readonly hub: Hub;
  readonly auth: Authenticator;
  readonly log: Logger;
  readonly maxSubscriptions: number;
  readonly maxBuffered: number;
  readonly slowConsumer: 'drop' | 'close';
  /** `limits.publishRate` (per second, 0: none) and `limits.publishBurst`. */
  readonly publishRate: number;
  readonly publishBurst: number;
  /** Called once when the connection is gone. */
  closed(connection: Connection): void;
}

/**
 * Frames kept while an auth frame is verified: reading is paused meanwhile, so only the rest of
 * the chunk being read can arrive; more than this is a client flooding, closed.
 */
const MAX_WAITING = 1_024;

/**
 * How long a client has to answer the hub's close frame before its socket is cut: one client
 * that reads but never answers must not hold a graceful stop until `stopTimeout`.
 */
export const CLOSE_GRACE_MS = 2_000;
/** Replies and errors may go this far beyond `maxBuffered` before a client that does not read them is closed. */
const REPLY_SLACK = 64 * 1024;

/**
 * One WebSocket client of the hub: it parses the client's frames, checks every request
 * against its grant, and receives messages. Everything sent to it — messages, acks, errors —
 * goes through one Outbox, in order, written once per event-loop turn: a burst of messages
 * costs one write per connection, and subscribers share the same frame bytes.
 *
 * Replies come in request order: a request answered later (a publish waiting for the
 * backplane, an auth frame being verified) holds its place in line, and whatever comes after
 * it — later replies, messages — waits behind it. Requests after an auth frame wait for the
 * grant it gives.
 */
export class Connection implements Subscriber {
  readonly #ws: WebSocket;
  readonly #outbox: Outbox;
  readonly #host: ConnectionHost;
  /** The hub of the start that accepted this connection (a close may come after a stop). */
  readonly #hub: Hub;
  readonly #patterns = new Set<string>();
  #grant: Grant;
  /** The token `#grant` comes from (undefined: none), checked again when a reload changes auth. */
  #token: string | undefined;
  /** Bytes of the publishes waiting for the backplane: over maxBuffered, reading pauses. */
  #inflight = 0;
  readonly #bucket: PublishBucket;
  /** Frames received while an auth frame is verified, handled with the grant it gives. */
  #waiting: { data: Buffer; isBinary: boolean }[] | undefined;
  #authTimer: NodeJS.Timeout | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #gone = false;
  #closing = false;
  /** Whether the last ping was answered (heartbeat). */
  alive = true;
  /** The last fan-out that reached this connection (set by the hub). */
  stamp = 0;

  constructor(ws: WebSocket, socket: Duplex, grant: Grant, host: ConnectionHost, options: { needsAuth: boolean; token?: string | undefined }) {
    this.#ws = ws;
    this.#outbox = new Outbox(socket);
    this.#grant = grant;
    this.#token = options.token;
    this.#host = host;
    this.#hub = host.hub;
    this.#bucket = new PublishBucket(host.publishRate, host.publishBurst, performance.now());
    ws.on('message', (data, isBinary) => this.#receive(data as Buffer, isBinary));
    ws.on('pong', () => (this.alive = true));
    // ws closes with 1009 on an oversize frame and 1002/1007 on a broken one, and emits
    // 'error' first: without a listener that error would crash the process
    ws.on('error', (error) => host.log.debug({ err: error, grant: this.#grant.name }, 'client connection error'));
    ws.on('close', () => this.#cleanup());
    if (options.needsAuth) this.#armAuthTimer();
  }

  /** Who the connection is, for logs. */
  get name(): string {
    return this.#grant.name;
  }

  /** The token the connection's permissions come from (query, header or auth frame); undefined: none. */
  get token(): string | undefined {
    return this.#token;
  }

  /**
   * Applies the permissions a reload's new auth gives this connection's token — undefined when
   * the token is no longer valid: the connection then says so (`unauthorized`, no id), falls
   * back to the anonymous permissions and, when those allow nothing, has `authTimeout` to send
   * an auth frame, as a client that connected without a token. Each subscription the new
   * permissions do not cover ends with a `revoked` error frame naming it; the others stay.
   */
  regrade(grant: Grant | undefined): void {
    if (this.#gone || this.#closing) return;
    if (grant === undefined) {
      this.#token = undefined;
      this.#error('unauthorized', 'the token is no longer valid; send an auth frame with a valid one');
    }
    this.#grant = grant ?? this.#host.auth.anonymous();
    for (const pattern of [...this.#patterns]) {
      if (maySubscribe(this.#grant, pattern)) continue;
      this.#patterns.delete(pattern);
      this.#hub.unsubscribe(pattern, this);
      this.#send(errorFrame('revoked', `no longer allowed to subscribe to ${pattern}`, undefined, { topic: pattern }));
    }
    this.#armAuthTimer();
  }

  /** Checks the token again against the hub's auth now, then regrade()s (undefined: superseded). */
  async recheck(): Promise<void> {
    const auth = this.#host.auth;
    const token = this.#token;
    const grant = token === undefined ? auth.anonymous() : await auth.verify(token).catch(() => undefined);
    // a later reload or an auth frame answered meanwhile takes over
    if (auth === this.#host.auth && token === this.#token) this.regrade(grant);
  }

  /**
   * Starts the auth timer of a connection that may do nothing without a token (none running,
   * no auth frame being checked), or stops it once the connection no longer needs one.
   */
  #armAuthTimer(): void {
    const auth = this.#host.auth;
    const anonymous = auth.anonymous();
    const needed = this.#token === undefined && auth.enabled && anonymous.publish.length === 0 && anonymous.subscribe.length === 0 && auth.authTimeout > 0;
    if (!needed) {
      clearTimeout(this.#authTimer);
      this.#authTimer = undefined;
      return;
    }
    if (this.#authTimer !== undefined || this.#waiting !== undefined) return;
    this.#authTimer = setTimeout(() => {
      this.#error('unauthorized', 'no auth frame in time');
      this.close(1008, 'authentication timeout');
    }, auth.authTimeout);
  }

  /** How many patterns the connection is subscribed to. */
  get subscriptions(): number {
    return this.#patterns.size;
  }

  /** Queues a published message (Subscriber). */
  deliver(_message: WireMessage, frame: Buffer): void {
    if (this.#gone || this.#closing) return;
    if (this.#outbox.bytes > this.#host.maxBuffered) {
      this.#hub.stats.dropped++;
      this.#hub.watch.bite('maxBuffered', this.#host.maxBuffered, { grant: this.#grant.name, policy: this.#host.slowConsumer });
      if (this.#host.slowConsumer === 'close') {
        this.#host.log.debug({ grant: this.#grant.name, buffered: this.#outbox.bytes }, 'slow consumer closed');
        this.close(1008, 'slow consumer');
      }
      return;
    }
    this.#outbox.out(frame);
  }

  /**
   * Sends a reply. Replies cannot be dropped (they keep request order), so a client that keeps
   * asking without reading the answers is closed once they pass maxBuffered.
   */
  #send(message: Record<string, unknown>): void {
    this.#outbox.out(jsonFrame(message));
    if (this.#outbox.bytes > this.#host.maxBuffered + REPLY_SLACK && !this.#closing) {
      this.#hub.watch.bite('maxBuffered', this.#host.maxBuffered, { grant: this.#grant.name, replies: true });
      this.close(1008, 'slow consumer');
    }
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
    this.#outbox.whenSettled(() => {
      this.#outbox.flushNow();
      this.#ws.close(code, reason);
      this.#closeTimer = setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS);
      this.#closeTimer.unref();
    });
  }

  /** Destroys the connection (forced stop). */
  terminate(): void {
    this.#ws.terminate();
  }

  #cleanup(): void {
    if (this.#gone) return;
    this.#gone = true;
    clearTimeout(this.#authTimer);
    clearTimeout(this.#closeTimer);
    this.#outbox.discard();
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
      if (this.#waiting.length >= MAX_WAITING) return this.close(1008, 'too many frames before the auth answer');
      this.#waiting.push({ data, isBinary });
      return;
    }
    if (isBinary) return this.#error('bad_frame', 'frames are JSON text');
    const text = data.toString('utf8');
    // the frame object is one level around the data
    if (nestedDeeperThan(text, MAX_DEPTH + 1)) return this.#error('invalid_data', `the frame nests arrays and objects more than ${MAX_DEPTH} levels deep`, idOf(text));
    let frame: unknown;
    try {
      frame = JSON.parse(text);
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
        return void this.#publish(frame, id, data.length);
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
      // at most half of maxBuffered, the newest messages: a replay must not make the client a
      // slow consumer at once, nor let resubscribing pile up copies of the history
      let room = this.#host.maxBuffered / 2 - this.#outbox.bytes;
      let from = replay.messages.length;
      while (from > 0 && (room -= (replay.messages[from - 1] as { frame: Buffer }).frame.length) >= 0) from--;
      for (let i = from; i < replay.messages.length; i++) this.#outbox.out((replay.messages[i] as { frame: Buffer }).frame);
      const lost = replay.lost ?? (from > 0 ? 'history' : undefined);
      extra = { replayed: replay.messages.length - from, ...(lost ? { lost } : {}) };
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

  async #publish(frame: Record<string, unknown>, id: unknown, size: number): Promise<void> {
    const bucket = this.#bucket;
    bucket.follow(this.#host.publishRate, this.#host.publishBurst);
    if (!bucket.take(performance.now())) {
      this.#hub.watch.bite('limits.publishRate', bucket.rate, { burst: bucket.burst, grant: this.#grant.name });
      this.#error('rate_limited', `more than ${bucket.rate} publishes per second (bursts of ${bucket.burst}); slow down`, id);
      if (bucket.exhausted) this.close(1008, 'publish rate exceeded');
      return;
    }
    const topic = frame['topic'];
    const bad = checkTopic(topic);
    if (bad !== undefined) return this.#error('bad_topic', bad, id);
    if (!('data' in frame)) return this.#error('bad_frame', 'a publish carries "data"', id);
    if (!mayPublish(this.#grant, topic as string)) return this.#error(this.#grant.name === 'anonymous' && this.#host.auth.enabled ? 'unauthorized' : 'forbidden', `not allowed to publish on ${String(topic)}`, id);
    const reply = this.#outbox.pending();
    this.#inflight += size;
    if (this.#inflight > this.#host.maxBuffered) this.#intake();
    try {
      const message = await this.#hub.publish(topic as string, frame['data']);
      this.#answer(reply, id === undefined ? undefined : { type: 'ack', id, messageId: message.id });
    } catch (error) {
      this.#answer(reply, error instanceof PublishRefused ? errorFrame(error.code, error.message, id) : errorFrame('unavailable', 'the hub cannot publish now', id));
    } finally {
      this.#inflight -= size;
      if (this.#ws.isPaused) this.#intake();
    }
  }

  /**
   * Pauses reading from the client while an auth frame is verified or its publishes waiting for
   * the backplane pass maxBuffered bytes (TCP then holds the rest at the client), resumes after.
   */
  #intake(): void {
    const pause = !this.#gone && (this.#waiting !== undefined || this.#inflight > this.#host.maxBuffered);
    if (pause && !this.#ws.isPaused) this.#ws.pause();
    else if (!pause && this.#ws.isPaused) this.#ws.resume();
  }

  #answer(reply: Reply, message: Record<string, unknown> | undefined): void {
    this.#outbox.answer(reply, message === undefined ? undefined : jsonFrame(message));
  }

  async #auth(frame: Record<string, unknown>, id: unknown): Promise<void> {
    clearTimeout(this.#authTimer);
    this.#authTimer = undefined;
    const token = frame['token'];
    const reply = this.#outbox.pending();
    this.#waiting = [];
    this.#intake();
    // checked by the auth in effect when the answer comes (a reload may change it meanwhile)
    const grant = typeof token === 'string' && token.length > 0 ? await verifyCurrent(() => this.#host.auth, token) : undefined;
    const waiting = this.#waiting ?? [];
    this.#waiting = undefined;
    this.#intake();
    if (grant === undefined) {
      this.#answer(reply, errorFrame('unauthorized', 'invalid token', id));
      this.close(1008, 'invalid token');
      return;
    }
    this.#grant = grant;
    this.#token = token as string;
    this.#answer(reply, id === undefined ? undefined : { type: 'ack', id });
    // what the client sent after its auth frame, in order, with the grant it asked for
    for (const frame of waiting) this.#receive(frame.data, frame.isBinary);
  }
}
