import type { Service, ServiceContext } from '../../src/kinds/contract.js';
import { systemClock, type Clock, type TimerHandle } from '../../src/runtime/clock.js';
import type { HubHandle, HubMessage } from '../pubsub/handle.js';
import { AddonMissing, loadRawAddon, netnsPath, type InterfaceInfo, type RawAddon, type RawSocket } from './addon.js';
import { addonError, downError, rawError, socketError } from './errors.js';
import { FrameBuilder, wakeOnLanPayload } from './frame.js';
import { formatMac, parseMac } from './mac.js';
import { dataBytes, parsePayload, renderedLength, type Payload } from './payload.js';
import { ethertypeOf, fromEntries, type RawConfig } from './schema.js';
import { FrameSender } from './sender.js';
import type { RawHandle } from './handle.js';
// the kind's error codes, declared also when the service is built without its kind (tests)
import './codes.js';

/** The handle type, published in handle.ts (what other kinds import); here for the service's users. */
export type { RawHandle } from './handle.js';

/** Whether a peer has a hub's publish and subscribe (the plan already checked that it is a pubsub). */
function isHub(value: unknown): value is HubHandle {
  const handle = value as Partial<HubHandle> | null | undefined;
  return typeof handle?.publish === 'function' && typeof handle.subscribe === 'function';
}

/** ARPHRD_ETHER and ARPHRD_LOOPBACK: the interfaces whose frames start with an Ethernet header. */
const ETHERNET_TYPES = new Set([1, 772]);

/** Test seams: the clock of the periodic frames and the rate limit, and the addon loader. */
export interface RawServiceOptions {
  readonly clock?: Clock;
  readonly loadAddon?: () => RawAddon;
}

/** The message fields a template may use, from the latest hub message. */
interface LastMessage {
  readonly data: Buffer;
  readonly topic: string;
  readonly id: string;
}

const NO_MESSAGE: LastMessage = { data: Buffer.alloc(0), topic: '', id: '' };
const DATA_ONLY: Payload = { kind: 'template', parts: ['data'], text: undefined };

/**
 * The `raw` kind's service: an AF_PACKET socket bound to one interface, sending Ethernet frames
 * at an interval, for each message of hub topics, and through its handle.
 */
export class RawService implements Service {
  readonly #ctx: ServiceContext<RawConfig>;
  readonly #clock: Clock;
  readonly #loadAddon: () => RawAddon;
  #socket: RawSocket | undefined;
  #sender: FrameSender | undefined;
  #builder: FrameBuilder | undefined;
  #payload: Payload = DATA_ONLY;
  /** Whether the payload uses ${ts}: reading the clock for every frame costs when it does not. */
  #timed = false;
  #wake: { mac: Buffer | undefined; password: Buffer | undefined } | undefined;
  #info: InterfaceInfo | undefined;
  #seq = 0;
  #last: LastMessage = NO_MESSAGE;
  #periodic: TimerHandle | undefined;
  #nextAt = 0;
  #unsubscribes: (() => void)[] = [];
  #stopping: Promise<void> | undefined;
  readonly #handle: RawHandle;

  constructor(ctx: ServiceContext<RawConfig>, options: RawServiceOptions = {}) {
    this.#ctx = ctx;
    this.#clock = options.clock ?? systemClock;
    this.#loadAddon = options.loadAddon ?? (() => loadRawAddon());
    const service = this;
    this.#handle = {
      send: (data?: unknown) => service.#emit(data === undefined ? undefined : { data, topic: '', id: '' }),
      get interface() {
        const info = service.#info;
        return info === undefined ? undefined : { name: info.name, index: info.index, mac: formatMac(info.mac), mtu: info.mtu };
      },
      stats: () => service.#sender?.stats() ?? { sent: 0, dropped: 0, queued: 0 },
    };
  }

  /** Opens and binds the socket, subscribes to the `from` topics, sends the first periodic frame. */
  async start(signal: AbortSignal): Promise<void> {
    this.#stopping = undefined;
    try {
      this.#open(signal);
    } catch (error) {
      this.#teardown();
      throw error;
    }
    const { config, log } = this.#ctx;
    // `ready` and `stopped` are the orchestrator's lines for every service: this one says what opened
    log.info(
      {
        interface: config.interface,
        ...(config.netns === undefined ? {} : { netns: config.netns }),
        source: formatMac(this.#sourceMac()),
        destination: config.destination,
        ethertype: `0x${ethertypeOf(config).toString(16).padStart(4, '0')}`,
        ...(config.vlan === undefined ? {} : { vlan: config.vlan.id }),
        ...(config.every === undefined ? {} : { every: config.every }),
        ...(config.from === undefined ? {} : { from: config.from }),
      },
      config.every === undefined && config.from === undefined ? 'socket open: frames come only from dependents (no every, no from)' : 'socket open',
    );
  }

  #open(signal: AbortSignal): void {
    const { config } = this.#ctx;
    const ns = config.netns === undefined ? undefined : netnsPath(config.netns);
    let addon: RawAddon;
    try {
      addon = this.#loadAddon();
    } catch (error) {
      if (error instanceof AddonMissing) throw addonError(this.#ctx, error);
      throw error;
    }
    const where = { iface: config.interface, netns: config.netns, interfaces: () => addon.listInterfaces(ns) };
    let info: InterfaceInfo;
    try {
      info = addon.interfaceInfo(config.interface, ns);
    } catch (error) {
      throw socketError(this.#ctx, error, where);
    }
    if (!ETHERNET_TYPES.has(info.type)) {
      throw rawError(this.#ctx, 'HX_ERR_RAW_NOT_ETHERNET', `interface ${config.interface} does not carry Ethernet frames (hardware type ${info.type})`, { path: ['interface'] });
    }
    this.#info = info;
    const hubs = this.#hubs();
    this.#prepareFrames(info);
    signal.throwIfAborted();
    try {
      this.#socket = new addon.RawSocket(config.interface, ns === undefined ? {} : { netns: ns });
    } catch (error) {
      throw socketError(this.#ctx, error, where);
    }
    if (!info.up) throw downError(this.#ctx, config.interface, config.netns);
    this.#seq = 0;
    this.#last = NO_MESSAGE;
    this.#sender = new FrameSender({
      socket: this.#socket,
      maxRate: config.maxRate,
      maxQueue: config.maxQueue,
      log: this.#ctx.log,
      clock: this.#clock,
      fail: (error) => this.#crash(error),
    });
    for (const { hub, topic, path } of hubs) {
      try {
        this.#unsubscribes.push(hub.subscribe(topic, (message) => this.#onMessage(message)));
      } catch (error) {
        throw rawError(this.#ctx, 'HX_ERR_RAW_FROM', `cannot subscribe to ${topic}: ${(error as Error).message}`, { path, cause: error });
      }
    }
    if (config.every !== undefined) {
      this.#nextAt = this.#clock.now();
      this.#tick();
    }
  }

  /** The hub handles of `from`, checked before anything opens. */
  #hubs(): { hub: HubHandle; topic: string; path: (string | number)[] }[] {
    return fromEntries(this.#ctx.config).map(({ hub: name, topic, path }) => {
      const hub = this.#ctx.peer<unknown>(name);
      if (!isHub(hub)) {
        throw rawError(this.#ctx, 'HX_ERR_RAW_FROM', `\`from: ${name}:${topic}\` names a service that is not a pubsub hub`, { path });
      }
      return { hub, topic, path };
    });
  }

  #sourceMac(): Buffer {
    const { source } = this.#ctx.config;
    return source === undefined ? (this.#info?.mac ?? Buffer.alloc(6)) : (parseMac(source) as Buffer);
  }

  /** The header, the payload, and the check that the largest frame fits the MTU. */
  #prepareFrames(info: InterfaceInfo): void {
    const { config } = this.#ctx;
    this.#builder = new FrameBuilder({
      destination: parseMac(config.destination) as Buffer,
      source: this.#sourceMac(),
      ethertype: ethertypeOf(config),
      vlan: config.vlan,
    });
    const wake = config.wakeOnLan;
    this.#wake = wake === undefined ? undefined : { mac: wake.mac === undefined ? undefined : parseMac(wake.mac), password: passwordBytes(wake.password) };
    const parsed = config.payload === undefined ? DATA_ONLY : parsePayload(config.payload);
    this.#payload = typeof parsed === 'string' ? DATA_ONLY : parsed;
    this.#timed = this.#payload.kind === 'template' && this.#payload.parts.includes('ts');
    // the longest a frame gets without message data: 13 digits of ts, 16 of seq
    const length = wake !== undefined ? 6 + 16 * 6 + (this.#wake?.password?.length ?? 0) : renderedLength(this.#payload, { ts: 1e12, seq: 1e15, data: Buffer.alloc(0), topic: '', id: '' });
    if (length > info.mtu) {
      throw rawError(this.#ctx, 'HX_ERR_RAW_FRAME_TOO_BIG', `the payload is ${length} bytes, more than the MTU of ${config.interface} (${info.mtu} bytes)`, {
        path: [wake !== undefined ? 'wakeOnLan' : 'payload'],
        hint: `shorten the payload, or raise the MTU: ip link set ${config.interface} mtu ${length}`,
      });
    }
  }

  #tick(): void {
    this.#periodic = undefined;
    this.#emit(undefined);
    const now = this.#clock.now();
    this.#nextAt = nextDue(this.#nextAt, now, this.#ctx.config.every ?? 1000);
    this.#periodic = this.#clock.setTimeout(() => this.#tick(), this.#nextAt - now);
  }

  #onMessage(message: HubMessage): void {
    this.#emit({ data: message.data, topic: message.topic, id: message.id });
  }

  /** Builds and queues one frame; `message` undefined: a periodic frame (or a handle send without data). */
  #emit(message: { data: unknown; topic: string; id: string } | undefined): boolean {
    const sender = this.#sender;
    const builder = this.#builder;
    const info = this.#info;
    if (sender === undefined || builder === undefined || info === undefined) return false;
    let frame: Buffer;
    if (this.#wake !== undefined) {
      const mac = (message === undefined ? undefined : macOf(message.data)) ?? this.#wake.mac;
      if (mac === undefined) {
        this.#ctx.log.warn({ code: 'HX_ERR_RAW_FROM', topic: message?.topic }, 'message names no MAC address to wake: no frame sent');
        return false;
      }
      frame = builder.bytes(wakeOnLanPayload(mac, this.#wake.password));
    } else {
      if (message !== undefined) {
        const bytes = dataBytes(message.data);
        if (typeof bytes === 'string') {
          this.#ctx.log.warn({ code: 'HX_ERR_RAW_FROM', topic: message.topic }, `${bytes}: no frame sent`);
          return false;
        }
        this.#last = { data: bytes, topic: message.topic, id: message.id };
      }
      const last = this.#last;
      frame = builder.build(this.#payload, { ts: this.#timed ? this.#clock.now() : 0, seq: this.#seq, data: last.data, topic: last.topic, id: last.id });
    }
    this.#seq += 1;
    if (frame.length > builder.headerLength + info.mtu) {
      this.#ctx.log.warn({ code: 'HX_ERR_RAW_FRAME_TOO_BIG', bytes: frame.length, mtu: info.mtu, topic: message?.topic }, 'frame dropped: larger than the interface MTU');
      return false;
    }
    return sender.enqueue(frame);
  }

  /** A send failed for good (the interface went away...): close and report the crash. */
  #crash(error: { code?: string; message: string }): void {
    const { config } = this.#ctx;
    const gone = error.code === 'ENXIO' || error.code === 'ENODEV';
    const hx = gone
      ? rawError(this.#ctx, 'HX_ERR_RAW_NO_INTERFACE', `interface ${config.interface} went away while sending`, { path: ['interface'], cause: error })
      : rawError(this.#ctx, 'HX_ERR_RAW_SEND', `sending on ${config.interface} failed: ${error.code ?? error.message}`, { path: ['interface'], cause: error });
    this.#teardown();
    this.#ctx.crashed(hx);
  }

  /** Stops the periodic frames and the subscriptions, sends what is queued, closes the socket. */
  stop(signal: AbortSignal): Promise<void> {
    this.#stopping ??= this.#stopAll(signal);
    return this.#stopping;
  }

  async #stopAll(signal: AbortSignal): Promise<void> {
    this.#quiet();
    const sender = this.#sender;
    try {
      if (sender !== undefined) {
        await sender.drain(signal);
        const { sent, dropped } = sender.stats();
        this.#ctx.log.info({ sent, dropped }, 'queue drained');
      }
    } finally {
      this.#teardown();
    }
  }

  /** No new frames: the periodic timer and the hub subscriptions end. */
  #quiet(): void {
    if (this.#periodic !== undefined) this.#clock.clearTimeout(this.#periodic);
    this.#periodic = undefined;
    for (const unsubscribe of this.#unsubscribes.splice(0)) {
      try {
        unsubscribe();
      } catch (error) {
        this.#ctx.log.warn({ err: error }, 'unsubscribing from the hub failed');
      }
    }
  }

  #teardown(): void {
    this.#quiet();
    this.#sender?.close();
    this.#sender = undefined;
    this.#socket?.close();
    this.#socket = undefined;
    this.#builder = undefined;
  }

  /** `raw:eth0`, or `raw:eth0@ns` inside a namespace. */
  address(): string | undefined {
    if (this.#socket === undefined) return undefined;
    const { config } = this.#ctx;
    return `raw:${config.interface}${config.netns === undefined ? '' : `@${config.netns}`}`;
  }

  /** What dependents get from `ctx.peer(name)`. */
  handle(): RawHandle {
    return this.#handle;
  }
}

/**
 * When the periodic frame after the one due at `due` is due: on the schedule set at start (no
 * drift from late timers); after a stall of more than an interval, the missed frames are
 * skipped rather than sent in a burst.
 */
export function nextDue(due: number, now: number, every: number): number {
  const next = due + every;
  return next > now ? next : next + Math.ceil((now - next + 1) / every) * every;
}

/** The MAC address a message names: a string, or `{ mac }`. */
function macOf(data: unknown): Buffer | undefined {
  const text = typeof data === 'string' ? data : typeof data === 'object' && data !== null ? (data as { mac?: unknown }).mac : undefined;
  return typeof text === 'string' ? parseMac(text) : undefined;
}

/** A SecureOn password: 6 bytes written as a MAC address, or 4 as an IPv4 address. */
function passwordBytes(text: string | undefined): Buffer | undefined {
  if (text === undefined) return undefined;
  if (text.includes('.')) return Buffer.from(text.split('.').map(Number));
  return parseMac(text);
}

