import { createHash, randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { TopicCounters, type Backplane, type BackplaneOptions, type WireMessage } from './backplane.js';

/**
 * Assigns the next id of a topic and publishes the message, in one round trip.
 * KEYS: the topic's counter, the shared epoch. ARGV: the channel, the topic as a JSON string,
 * the data as JSON, a fresh epoch in case the shared one is gone (Redis restarted empty).
 * The payload is assembled as text so `data` reaches the other nodes byte for byte (cjson
 * would turn `[]` into `{}` and round big numbers). `ts` is Redis's clock, so it follows seq.
 */
export const PUBLISH_SCRIPT = `
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[4]
  redis.call('SET', KEYS[2], epoch)
end
local seq = redis.call('INCR', KEYS[1])
local now = redis.call('TIME')
local ts = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local payload = '{"topic":' .. ARGV[2] .. ',"epoch":' .. cjson.encode(epoch) ..
  ',"seq":' .. seq .. ',"ts":' .. string.format('%d', ts) .. ',"data":' .. ARGV[3] .. '}'
redis.call('PUBLISH', ARGV[1], payload)
return { epoch, seq, ts }
`;

const SCRIPT_SHA = createHash('sha1').update(PUBLISH_SCRIPT).digest('hex');
/** First reconnect delay; doubles up to MAX_DELAY_MS. */
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5_000;
/** How long a command may take before Redis counts as unresponsive (the node goes local). */
const COMMAND_TIMEOUT_MS = 2_000;
/** How long QUIT may take at stop before the socket is cut. */
const QUIT_DEADLINE_MS = 500;

/**
 * The delay before reconnect attempt `attempt` (1-based): 100 ms doubling to 5 s, minus up to
 * a quarter at random so that nodes cut off together do not reconnect in lockstep.
 */
export function retryDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - 0.25 * random()));
}

type State = 'idle' | 'starting' | 'connected' | 'lost' | 'stopped';
type Role = 'publisher' | 'subscriber';

/**
 * The backplane that connects every hub using one Redis (and one prefix): ids come from a
 * Lua script (INCR of `<prefix>:seq:<topic>` + PUBLISH on `<prefix>:messages`), so they are
 * ordered per topic across all nodes, and every node — this one included — receives every
 * message from its subscriber connection, in the order Redis published them.
 *
 * Guarantees across nodes:
 * - Connected: one global order per topic, ids `<shared epoch>:<seq>` without gaps. Each node
 *   receives the messages published while its subscriber was connected; a node that was cut
 *   off misses what was published meanwhile (its seq jumps: a gap the hub reports as lost).
 * - During an outage (either connection down): `publish` does not wait for Redis. It assigns
 *   ids in a local epoch (`local-<random>`, new per outage, seq from 1 per topic) and delivers
 *   to this node's listener only; other nodes never see these messages, and nothing orders
 *   them against other nodes' messages. A publish cut by the outage mid-flight may have
 *   reached Redis before being delivered locally too (once through Redis, once locally).
 * - After Redis lost its data (restart without persistence) the first node to reconnect or
 *   publish creates a new shared epoch: ids restart at 1 and clients learn history was lost.
 *
 * `onMessage` may run before or after the `publish` that caused it resolves.
 */
export class RedisBackplane implements Backplane {
  readonly #url: string;
  readonly #safeUrl: string;
  readonly #log: Logger;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #epochKey: string;
  #listener: (message: WireMessage) => void = () => undefined;
  #state: State = 'idle';
  #pub: Redis | undefined;
  #sub: Redis | undefined;
  #pubReady = false;
  #subReady = false;
  /** Bumped on every subscriber (re)connection, so a late SUBSCRIBE reply is not mistaken. */
  #subGeneration = 0;
  #settling = false;
  #shared = '';
  /** The epoch of an outage and its counters. */
  #local: { epoch: string; counters: TopicCounters } | undefined;
  #lastError: Error | undefined;
  #starting: { resolve: () => void; reject: (err: Error) => void } | undefined;
  #stopping: Promise<void> | undefined;

  /** `url`: `redis://host:port[/db]` (ioredis syntax; `rediss://` for TLS). Opens nothing. */
  constructor(url: string, options: BackplaneOptions) {
    this.#url = url;
    this.#safeUrl = redact(url);
    this.#log = options.log;
    this.#prefix = options.prefix;
    this.#channel = `${options.prefix}:messages`;
    this.#epochKey = `${options.prefix}:epoch`;
  }

  onMessage(listener: (message: WireMessage) => void): void {
    this.#listener = listener;
  }

  /** The shared epoch while connected, this node's local epoch during an outage. */
  epoch(): string {
    return this.#local?.epoch ?? this.#shared;
  }

  /**
   * Connects both connections; resolves once both are ready, the channel subscribed and the
   * shared epoch known. Retries with backoff (each failure logged at warn) until `signal`
   * aborts, then rejects with the URL and the last error code (ECONNREFUSED...).
   */
  start(signal: AbortSignal): Promise<void> {
    if (this.#state !== 'idle' && this.#state !== 'stopped') return Promise.reject(new Error('the redis backplane is already started'));
    this.#state = 'starting';
    this.#stopping = undefined;
    this.#shared = '';
    this.#local = undefined;
    this.#lastError = undefined;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const last = this.#lastError as (Error & { code?: unknown }) | undefined;
        const why = last === undefined ? 'no answer' : `${typeof last.code === 'string' ? `${last.code}: ` : ''}${last.message}`;
        const err = new Error(`could not connect to redis at ${this.#safeUrl} before the start was aborted (${why})`, { cause: last });
        this.#starting = undefined;
        done();
        void this.stop().finally(() => reject(err));
      };
      const done = (): void => signal.removeEventListener('abort', onAbort);
      this.#starting = {
        resolve: () => (done(), resolve()),
        reject: (err) => (done(), reject(err)),
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pub = this.#connect('publisher');
      this.#sub = this.#connect('subscriber');
    });
  }

  /**
   * Assigns the next id of `topic` and delivers to every node (this one through Redis, like
   * the others); during an outage, assigns a local id and delivers here only. `data` must be
   * JSON-serialisable; listeners receive its JSON decoding. Rejects after stop, and when Redis
   * answers with an error (out of memory, ACL...): nothing is delivered then.
   */
  async publish(topic: string, data: unknown, serialized?: string): Promise<WireMessage> {
    if (this.#state !== 'connected' && this.#state !== 'lost') throw new Error(`the redis backplane is ${this.#state === 'starting' ? 'not started yet' : 'stopped'}`);
    const json = serialized ?? JSON.stringify(data);
    if (json === undefined) throw new Error(`the data published on ${topic} is not JSON`);
    const pub = this.#pub;
    // ioredis reports a close on the next tick: its status is the first to know
    if (pub?.status !== 'ready' || this.#sub?.status !== 'ready') this.#lose(this.#lastError);
    if (this.#state !== 'connected' || pub === undefined) return this.#publishLocally(topic, data, json);
    const keys = [`${this.#prefix}:seq:${topic}`, this.#epochKey];
    const args = [this.#channel, JSON.stringify(topic), json, newEpoch()];
    try {
      const reply = await pub.evalsha(SCRIPT_SHA, 2, ...keys, ...args).catch((err: unknown) => {
        if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return pub.eval(PUBLISH_SCRIPT, 2, ...keys, ...args);
        throw err;
      });
      const [epoch, seq, ts] = reply as [string, number, number];
      if (this.#state === 'connected') this.#shared = epoch;
      return { topic, id: `${epoch}:${seq}`, epoch, seq, data, ts };
    } catch (err) {
      if (err instanceof Error && err.name === 'ReplyError') throw new Error(`redis refused the publish on ${topic}: ${err.message}`, { cause: err });
      if (this.#stopped()) throw new Error('the redis backplane is stopped', { cause: err });
      // the connection failed under the command (closed, timed out): Redis is gone for now
      this.#lose(err);
      if (pub.status === 'ready') pub.disconnect(true); // unresponsive: rebuild it through the backoff
      return this.#publishLocally(topic, data, json);
    }
  }

  /**
   * Forgets the outage counter of `topic` (the counters in Redis are Redis's memory, and must
   * never restart within the shared epoch); a later local id continues above it.
   */
  forget(topic: string): void {
    this.#local?.counters.forget(topic);
  }

  /** Quits both connections (QUIT, then cut at a short deadline); idempotent. */
  stop(): Promise<void> {
    return (this.#stopping ??= this.#teardown());
  }

  /** A method, so TypeScript does not narrow the state across an await. */
  #stopped(): boolean {
    return this.#state === 'stopped';
  }

  #publishLocally(topic: string, data: unknown, json: string): WireMessage {
    this.#local ??= { epoch: `local-${newEpoch()}`, counters: new TopicCounters() };
    const { epoch, counters } = this.#local;
    const seq = counters.next(topic);
    const ts = Date.now();
    this.#deliver({ topic, id: `${epoch}:${seq}`, epoch, seq, data: JSON.parse(json) as unknown, ts, json });
    return { topic, id: `${epoch}:${seq}`, epoch, seq, data, ts };
  }

  #connect(role: Role): Redis {
    // a client being quit by an earlier stop must not touch the state of a later start
    const current = (): boolean => client === (role === 'publisher' ? this.#pub : this.#sub);
    const options: RedisOptions & { disconnectTimeout: number } = {
      lazyConnect: true,
      // a command during an outage fails at once (the node goes local) and is never resent
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // the subscriber subscribes on every ready itself, so it knows when it is subscribed
      autoResubscribe: false,
      commandTimeout: role === 'publisher' ? COMMAND_TIMEOUT_MS : undefined,
      connectTimeout: COMMAND_TIMEOUT_MS,
      connectionName: `${this.#prefix.replace(/\s/g, '_')}:${role}`,
      disableClientInfo: true,
      // ioredis arms this timer even on an already closed socket: 0 leaves nothing behind at stop
      disconnectTimeout: 0,
      retryStrategy: (attempt) => (this.#stopped() || !current() ? null : retryDelay(attempt)),
    };
    const client = new Redis(this.#url, options);
    client.on('error', (err: Error) => current() && this.#onError(role, err));
    client.on('close', () => current() && this.#onClose(role));
    client.on('ready', () => current() && this.#onReady(role, client));
    if (role === 'subscriber') client.on('message', (channel: string, payload: string) => current() && this.#onPayload(channel, payload));
    client.connect().catch(() => undefined); // failures arrive as 'error' events; retries follow
    return client;
  }

  #onError(role: Role, err: Error): void {
    this.#lastError = err;
    const code = (err as Error & { code?: unknown }).code;
    if (this.#state === 'starting') this.#log.warn({ url: this.#safeUrl, connection: role, code, err: err.message }, 'redis connection failed');
    else this.#log.debug({ url: this.#safeUrl, connection: role, code, err: err.message }, 'redis connection error');
  }

  #onClose(role: Role): void {
    if (role === 'publisher') this.#pubReady = false;
    else {
      this.#subReady = false;
      this.#subGeneration++;
    }
    this.#lose(this.#lastError);
  }

  #onReady(role: Role, client: Redis): void {
    if (role === 'publisher') {
      this.#pubReady = true;
      void this.#settle();
      return;
    }
    const generation = ++this.#subGeneration;
    client.subscribe(this.#channel).then(
      () => {
        if (generation !== this.#subGeneration) return;
        this.#subReady = true;
        void this.#settle();
      },
      (err: unknown) => {
        if (generation !== this.#subGeneration || client.status !== 'ready') return; // the connection dropped
        this.#lastError = err instanceof Error ? err : new Error(String(err));
        this.#log.warn({ url: this.#safeUrl, err: this.#lastError.message }, 'redis subscribe failed');
        client.disconnect(true); // try again through the reconnect backoff
      },
    );
  }

  /** Both connections up: learn the shared epoch (creating it if Redis has none), go shared. */
  async #settle(): Promise<void> {
    const pub = this.#pub;
    if (this.#settling || !this.#pubReady || !this.#subReady || pub === undefined) return;
    if (this.#state !== 'starting' && this.#state !== 'lost') return;
    this.#settling = true;
    try {
      await pub.set(this.#epochKey, newEpoch(), 'NX');
      const epoch = await pub.get(this.#epochKey);
      if (epoch === null) throw new Error(`${this.#epochKey} vanished`);
      if (!this.#pubReady || !this.#subReady) return; // dropped meanwhile: the next ready settles
      const previous = this.#shared;
      this.#shared = epoch;
      this.#local = undefined;
      this.#lastError = undefined;
      if (this.#state === 'starting') {
        this.#state = 'connected';
        this.#log.info({ url: this.#safeUrl, epoch }, 'redis connected');
        this.#starting?.resolve();
        this.#starting = undefined;
      } else if (this.#state === 'lost') {
        this.#state = 'connected';
        this.#log.info({ url: this.#safeUrl, epoch, epochChanged: epoch !== previous }, 'redis reconnected');
      }
    } catch (err) {
      if (this.#stopped()) return;
      this.#lastError = err instanceof Error ? err : new Error(String(err));
      this.#log.warn({ url: this.#safeUrl, err: this.#lastError.message }, 'redis epoch unavailable');
      if (pub.status === 'ready') pub.disconnect(true); // try again through the reconnect backoff
    } finally {
      this.#settling = false;
    }
  }

  /** A connection dropped: switch to a local epoch, once per outage. */
  #lose(err: unknown): void {
    if (this.#state !== 'connected') return;
    this.#state = 'lost';
    this.#local = { epoch: `local-${newEpoch()}`, counters: new TopicCounters() };
    const why = err instanceof Error ? err.message : undefined;
    this.#log.warn({ url: this.#safeUrl, err: why, localEpoch: this.#local.epoch }, 'redis connection lost');
  }

  #onPayload(channel: string, payload: string): void {
    if (channel !== this.#channel) return;
    const message = toWireMessage(payload);
    if (message === undefined) {
      this.#log.warn({ channel, payload: payload.slice(0, 200) }, 'malformed backplane message skipped');
      return;
    }
    if (this.#state === 'connected') this.#shared = message.epoch;
    this.#deliver(message);
  }

  /** Calls the listener; a throw is logged, never lets it into ioredis's parser. */
  #deliver(message: WireMessage): void {
    try {
      this.#listener(message);
    } catch (err) {
      this.#log.error({ err, topic: message.topic, id: message.id }, 'backplane listener failed');
    }
  }

  async #teardown(): Promise<void> {
    this.#state = 'stopped';
    this.#starting?.reject(new Error(`the redis backplane at ${this.#safeUrl} was stopped before it connected`));
    this.#starting = undefined;
    this.#local = undefined;
    const clients = [this.#pub, this.#sub].filter((c): c is Redis => c !== undefined);
    this.#pub = this.#sub = undefined;
    this.#pubReady = this.#subReady = false;
    await Promise.all(clients.map(quit));
  }
}

/** QUIT when ready (bounded by a deadline), else cut; resolves once the connection ended. */
async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  let isEnded = false;
  const ended = new Promise<void>((resolve) =>
    client.once('end', () => {
      isEnded = true;
      resolve();
    }),
  );
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, QUIT_DEADLINE_MS)));
    await Promise.race([client.quit().then(() => ended, () => undefined), deadline]);
    clearTimeout(timer);
    if (isEnded) return;
  }
  // between two attempts the socket is already closed: no 'end' will come, nothing is left open
  const waiting = client.status !== 'reconnecting';
  client.disconnect();
  if (waiting) await ended;
}

/** A payload from the channel as a WireMessage, or undefined when it is not one. */
function toWireMessage(payload: string): WireMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || !('data' in value)) return undefined;
  const { topic, epoch, seq, ts, data } = value as Record<string, unknown>;
  if (typeof topic !== 'string' || typeof epoch !== 'string' || epoch === '') return undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1 || typeof ts !== 'number') return undefined;
  return { topic, id: `${epoch}:${seq}`, epoch, seq, data, ts };
}

function newEpoch(): string {
  return Date.now().toString(36) + randomBytes(4).toString('hex');
}

/** The URL without its password, for logs and errors. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
