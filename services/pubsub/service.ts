import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import { formatListen, type ListenAddress } from '../../src/kinds/fields.js';
import type { CommonServiceConfig, Service, ServiceContext } from '../../src/kinds/contract.js';
import { listenOn } from '../../src/net/listen.js';
import type { HttpHandle } from '../http/handle.js';
import { Authenticator, tokenOf, type Grant } from './auth.js';
import { MemoryBackplane, type Backplane } from './backplane.js';
import { Connection, type ConnectionHost } from './connection.js';
import type { PubsubHandle } from './handle.js';
import { handleHttpPublish } from './http-publish.js';
import { Hub, PublishRefused } from './hub.js';
import { PublishBucket } from './limits.js';
import type { PubsubConfig } from './schema.js';
import { TopicRules } from './topic-rules.js';
import { checkPattern } from '../../src/net/topics.js';
// the kind's error codes, declared also when the service is built without its kind (tests)
import './codes.js';

/** The handle type, published in handle.ts (what other kinds import); here for the service's users. */
export type { PubsubHandle } from './handle.js';

function refuse(socket: Duplex, status: number, text: string, extra = ''): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text) + 1}\r\n${extra}\r\n${text}\n`, () => socket.destroy());
}

/**
 * The `pubsub` kind's service: a WebSocket pub/sub hub attached to an http service (and so to
 * every tls listener serving it) or listening on its own, with wildcards, history, auth, topic
 * schemas, HTTP publish, limits, coalesced fan-out and an optional Redis backplane.
 */
export class PubsubService implements Service {
  readonly #ctx: ServiceContext<PubsubConfig>;
  readonly #connections = new Set<Connection>();
  readonly #handle: PubsubHandle;
  #hub: Hub | undefined;
  #backplane: Backplane | undefined;
  #auth: Authenticator | undefined;
  #wss: WebSocketServer | undefined;
  #server: Server | undefined;
  #bound: ListenAddress | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #cleanups: (() => void)[] = [];
  #accepting = false;
  /** Upgrades whose token is being verified: they count against maxConnections already. */
  #upgrading = 0;
  /** The publish rate limit of each HTTP connection, forgotten with it. */
  readonly #httpBuckets = new WeakMap<object, PublishBucket>();
  #stopping: Promise<void> | undefined;
  #attached: HttpHandle | undefined;
  readonly #host: ConnectionHost;

  constructor(ctx: ServiceContext<PubsubConfig>) {
    this.#ctx = ctx;
    this.#handle = this.#makeHandle();
    const self = this;
    this.#host = {
      get hub() {
        return self.#hub as Hub;
      },
      get auth() {
        return self.#auth as Authenticator;
      },
      log: ctx.log,
      maxSubscriptions: ctx.config.maxSubscriptions,
      maxBuffered: ctx.config.maxBuffered,
      slowConsumer: ctx.config.slowConsumer,
      publishRate: ctx.config.limits.publishRate,
      publishBurst: ctx.config.limits.publishBurst,
      closed: (connection) => void self.#connections.delete(connection),
    };
  }

  /** Loads schemas and keys, connects the backplane, then takes upgrades; resolves once clients can connect. */
  async start(signal: AbortSignal): Promise<void> {
    this.#stopping = undefined;
    const { config, name, baseDir, log } = this.#ctx;
    let attachTo: HttpHandle | undefined;
    if (config.attach !== undefined) {
      const peer = this.#ctx.peer<Partial<HttpHandle>>(config.attach);
      if (typeof peer?.onUpgrade !== 'function' || typeof peer.intercept !== 'function') {
        throw new HendrixError('HX_ERR_PUBSUB_ATTACH', { service: name, path: ['services', name, 'attach'], location: this.#ctx.locate(['attach']), message: `\`attach: ${config.attach}\` names a service that is not of kind http` });
      }
      attachTo = peer as HttpHandle;
    }
    this.#attached = attachTo;
    const where = { service: name, baseDir, locate: (path: readonly (string | number)[]) => this.#ctx.locate(path) };
    const rules = await TopicRules.create(config.topics, where);
    this.#auth = await Authenticator.create(config.auth, where);
    const backplane = await this.#createBackplane();
    this.#backplane = backplane;
    const { limits } = config;
    const hub = new Hub({ rules, backplane, log, limits: { bytes: limits.historyBytes, topics: limits.topics, idle: limits.topicIdle } });
    this.#hub = hub;
    // give up a little before the orchestrator's startTimeout, so the error says why (ECONNREFUSED...);
    // a controller and timer of our own: an AbortSignal.timeout() held only by AbortSignal.any()
    // can be garbage-collected before it fires (seen on Node 20: the start then hung to the timeout)
    const startTimeout = (config as Partial<CommonServiceConfig>).startTimeout ?? 0;
    const connecting = new AbortController();
    const giveUp = setTimeout(() => connecting.abort(), startTimeout > 0 ? Math.max(200, startTimeout - 300) : 10_000);
    const follow = (): void => connecting.abort();
    signal.addEventListener('abort', follow, { once: true });
    try {
      await backplane.start(connecting.signal);
    } catch (error) {
      this.#hub = undefined;
      hub.close();
      throw new HendrixError('HX_ERR_PUBSUB_BACKPLANE', { service: name, path: ['services', name, 'backplane'], location: this.#ctx.locate(['backplane']), message: `cannot connect to the backplane ${config.backplane}: ${(error as Error).message}`, cause: error });
    } finally {
      clearTimeout(giveUp);
      signal.removeEventListener('abort', follow);
    }
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: config.maxPayload, perMessageDeflate: false, clientTracking: false });
    this.#accepting = true;
    try {
      if (attachTo !== undefined) {
        this.#cleanups.push(attachTo.onUpgrade((req, socket, head) => this.#upgrade(req, socket, head)));
        this.#cleanups.push(attachTo.intercept((req, res) => this.#request(req, res)));
      } else {
        await this.#listen();
      }
    } catch (error) {
      await this.#teardown();
      throw error;
    }
    if (config.heartbeat > 0) {
      this.#heartbeat = setInterval(() => {
        for (const connection of this.#connections) connection.heartbeat();
      }, config.heartbeat);
    }
    log.info({ path: config.path, ...(config.attach ? { attach: config.attach } : { address: this.address() }), backplane: config.backplane.replace(/\/\/[^@/]*@/, '//***@') }, 'hub ready');
  }

  async #createBackplane(): Promise<Backplane> {
    const { config, name, log } = this.#ctx;
    if (config.backplane === 'memory') return new MemoryBackplane();
    const { RedisBackplane } = await import('./redis-backplane.js');
    return new RedisBackplane(config.backplane, { log: log.child({ component: 'backplane' }), prefix: `hendrix:${name}` });
  }

  async #listen(): Promise<void> {
    const { config, name, baseDir } = this.#ctx;
    const server = createServer((req, res) => {
      if (!this.#request(req, res)) res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end(`connect with a WebSocket to ${config.path}\n`);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      if (this.#upgrade(req, socket, head) === false) refuse(socket, 404, 'Not Found');
    });
    this.#server = server;
    this.#bound = await listenOn(server, config.listen as ListenAddress, { service: name, baseDir, location: this.#ctx.locate(['listen']) });
    server.on('error', (error) => this.#ctx.crashed(error));
  }

  /** Answers HTTP publish requests under the hub path; false for every other request. */
  #request(req: IncomingMessage, res: ServerResponse): boolean {
    const { config } = this.#ctx;
    const url = req.url ?? '/';
    if (!url.startsWith(config.path)) return false;
    const rest = url.slice(config.path.length);
    if (config.httpPublish && rest.startsWith('/publish/')) {
      handleHttpPublish(req, res, { hub: this.#hub as Hub, auth: this.#auth as Authenticator, prefix: `${config.path}/publish/`, maxPayload: config.maxPayload, log: this.#ctx.log, accepting: () => this.#accepting, bucket: (r) => this.#httpBucket(r) });
      return true;
    }
    if (rest === '' || rest.startsWith('?')) {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end(`connect with a WebSocket to ${config.path}\n`);
      return true;
    }
    return false;
  }

  #httpBucket(req: IncomingMessage): PublishBucket {
    const { limits } = this.#ctx.config;
    let bucket = this.#httpBuckets.get(req.socket);
    if (bucket === undefined) {
      bucket = new PublishBucket(limits.publishRate, limits.publishBurst, performance.now());
      this.#httpBuckets.set(req.socket, bucket);
    }
    return bucket;
  }

  /** Takes a WebSocket upgrade for the hub path; false to let another handler have it. */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean | void {
    const { config, log } = this.#ctx;
    const url = new URL(req.url ?? '/', 'http://hub');
    if (url.pathname !== config.path) return false;
    if (!this.#accepting) return refuse(socket, 503, 'Service Unavailable');
    const origin = req.headers.origin;
    if (origin !== undefined && config.origins !== undefined && !config.origins.includes(origin)) {
      log.debug({ origin }, 'origin refused');
      return refuse(socket, 403, 'Forbidden');
    }
    if (this.#connections.size + this.#upgrading >= config.maxConnections) {
      this.#hub?.watch.bite('maxConnections', config.maxConnections);
      return refuse(socket, 503, 'Service Unavailable', 'Retry-After: 5\r\n');
    }
    const auth = this.#auth as Authenticator;
    const token = tokenOf(req, url);
    const accept = (grant: Grant, needsAuth: boolean): void => {
      if (!this.#accepting || socket.destroyed) return refuse(socket, 503, 'Service Unavailable');
      (this.#wss as WebSocketServer).handleUpgrade(req, socket, head, (ws) => {
        const connection = new Connection(ws, socket, grant, this.#host, { needsAuth });
        this.#connections.add(connection);
      });
    };
    if (token === undefined) {
      const anonymous = auth.anonymous();
      accept(anonymous, auth.enabled && anonymous.publish.length === 0 && anonymous.subscribe.length === 0);
      return;
    }
    this.#upgrading++;
    auth
      .verify(token)
      .then(
        (grant) => (grant === undefined ? refuse(socket, 401, 'Unauthorized') : accept(grant, false)),
        () => refuse(socket, 401, 'Unauthorized'),
      )
      .finally(() => this.#upgrading--);
  }

  /**
   * Stops taking upgrades, closes every client with 1001 "going away" (after what was queued
   * for it), waits for them to close — terminating the rest when `signal` aborts — then
   * disconnects the backplane.
   */
  stop(signal: AbortSignal): Promise<void> {
    this.#stopping ??= this.#stopAll(signal);
    return this.#stopping;
  }

  async #stopAll(signal: AbortSignal): Promise<void> {
    this.#accepting = false;
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
    this.#server?.close();
    clearInterval(this.#heartbeat);
    const open = [...this.#connections];
    if (open.length > 0) this.#ctx.log.info({ connections: open.length }, 'closing clients');
    for (const connection of open) connection.close(1001, 'going away');
    await new Promise<void>((done) => {
      const check = (): void => {
        if (this.#connections.size === 0) return finish();
        if (signal.aborted) {
          for (const connection of this.#connections) connection.terminate();
          return finish();
        }
        timer = setTimeout(check, 20);
      };
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', check);
        done();
      };
      signal.addEventListener('abort', check, { once: true });
      check();
    });
    await this.#teardown();
  }

  async #teardown(): Promise<void> {
    this.#accepting = false;
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    for (const connection of this.#connections) connection.terminate();
    this.#connections.clear();
    if (this.#server !== undefined) {
      this.#server.closeAllConnections();
      if (this.#server.listening) this.#server.close();
    }
    this.#server = undefined;
    this.#bound = undefined;
    this.#wss?.close();
    this.#wss = undefined;
    const backplane = this.#backplane;
    this.#backplane = undefined;
    this.#hub?.close();
    this.#hub = undefined;
    await backplane?.stop();
  }

  /** The WebSocket URL of the hub: on its own address, or on the http service it is attached to. */
  address(): string | undefined {
    const path = this.#ctx.config.path === '/' ? '' : this.#ctx.config.path;
    if (this.#bound !== undefined) return formatListen(this.#bound, 'ws') + path;
    const url = this.#hub === undefined ? undefined : this.#attached?.url;
    return url?.startsWith('http') ? url.replace(/^http/, 'ws') + path : undefined;
  }

  /** What dependents get from `ctx.peer(name)`: publish, subscribe and stats. */
  handle(): PubsubHandle {
    return this.#handle;
  }

  #makeHandle(): PubsubHandle {
    const name = (): string => this.#ctx.name;
    return {
      publish: async (topic, data) => {
        const hub = this.#hub;
        if (hub === undefined) throw new HendrixError('HX_ERR_PUBSUB_REJECTED', { service: name(), message: `the hub ${name()} is not running` });
        try {
          return (await hub.publish(topic, data)).id;
        } catch (error) {
          if (error instanceof PublishRefused) throw new HendrixError('HX_ERR_PUBSUB_REJECTED', { service: name(), message: `${error.code}: ${error.message}`, cause: error });
          throw error;
        }
      },
      subscribe: (pattern, listener) => {
        const bad = checkPattern(pattern);
        if (bad !== undefined) throw new HendrixError('HX_ERR_PUBSUB_REJECTED', { service: name(), message: `bad_topic: ${bad}` });
        const hub = this.#hub;
        if (hub === undefined) throw new HendrixError('HX_ERR_PUBSUB_REJECTED', { service: name(), message: `the hub ${name()} is not running` });
        const subscriber = Hub.listener(listener);
        hub.subscribe(pattern, subscriber);
        return () => void hub.unsubscribe(pattern, subscriber);
      },
      stats: () => {
        const hub = this.#hub;
        const retained = hub?.retained() ?? { topics: 0, messages: 0, bytes: 0, retained: 0 };
        return {
          connections: this.#connections.size,
          subscriptions: hub?.subscriptions ?? 0,
          published: hub?.stats.published ?? 0,
          delivered: hub?.stats.delivered ?? 0,
          dropped: hub?.stats.dropped ?? 0,
          topics: retained.topics,
          historyMessages: retained.messages,
          historyBytes: retained.bytes,
          retainedBytes: retained.retained,
        };
      },
      address: () => this.#bound,
    };
  }
}
