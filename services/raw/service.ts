import type { Figure, Service, ServiceContext } from '../../src/kinds/contract.js';
import { systemClock, type Clock } from '../../src/runtime/clock.js';
import type { HubMessage } from '../pubsub/handle.js';
import { loadRawAddon, type RawAddon, type RawSocket } from './addon.js';
import { rawError } from './errors.js';
import { wakeOnLanPayload } from './frame.js';
import { inspectLink, openLink } from './link.js';
import { formatMac, parseMac } from './mac.js';
import { dataBytes } from './payload.js';
import { changedFields, prepareReload } from './reload.js';
import { PeriodicSchedule } from './schedule.js';
import { ethertypeOf, type RawConfig } from './schema.js';
import { FrameSender, type SenderStats } from './sender.js';
import { prepareFrames, sourceMac, type FrameSetup } from './setup.js';
import { HubSubscriptions, resolveHubs, type SubscriptionChange } from './subscriptions.js';
import type { RawHandle } from './handle.js';
// the kind's error codes, declared also when the service is built without its kind (tests)
import './codes.js';

/** The handle type, published in handle.ts (what other kinds import); here for the service's users. */
export type { RawHandle } from './handle.js';
/** The schedule of the periodic frames (re-exported: its tests import it from here). */
export { nextDue } from './schedule.js';

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

/**
 * The `raw` kind's service: an AF_PACKET socket bound to one interface, sending Ethernet frames
 * at an interval, for each message of hub topics, and through its handle. Every field of its
 * config changes in place (`reload`), the interface too (the socket is reopened).
 */
export class RawService implements Service {
  readonly #ctx: ServiceContext<RawConfig>;
  readonly #clock: Clock;
  readonly #loadAddon: () => RawAddon;
  /** The config in force: ctx.config until a reload gives the next one. */
  #config: RawConfig;
  #setup: FrameSetup | undefined;
  #socket: RawSocket | undefined;
  #sender: FrameSender | undefined;
  /** Senders of a socket an interface change closed, still sending what they had queued. */
  readonly #retiring = new Map<FrameSender, RawSocket>();
  /** The counts of retired senders, since the last start. */
  #carried = { sent: 0, dropped: 0 };
  #seq = 0;
  /** Frames never queued since the instance was built: a message naming no MAC, data that makes no payload, a frame over the MTU. */
  #refused = 0;
  #last: LastMessage = NO_MESSAGE;
  readonly #schedule: PeriodicSchedule;
  readonly #subscriptions: HubSubscriptions;
  #stopping: Promise<void> | undefined;
  readonly #handle: RawHandle;

  constructor(ctx: ServiceContext<RawConfig>, options: RawServiceOptions = {}) {
    this.#ctx = ctx;
    this.#config = ctx.config;
    this.#clock = options.clock ?? systemClock;
    this.#loadAddon = options.loadAddon ?? (() => loadRawAddon());
    this.#schedule = new PeriodicSchedule(this.#clock, () => void this.#emit(undefined));
    this.#subscriptions = new HubSubscriptions(ctx, ctx.log, (message) => this.#onMessage(message));
    const service = this;
    this.#handle = {
      send: (data?: unknown) => service.#emit(data === undefined ? undefined : { data, topic: '', id: '' }),
      get interface() {
        const info = service.#setup?.info;
        return info === undefined ? undefined : { name: info.name, index: info.index, mac: formatMac(info.mac), mtu: info.mtu };
      },
      stats: () => service.#stats(),
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
    const config = this.#config;
    // `ready` and `stopped` are the orchestrator's lines for every service: this one says what opened
    this.#ctx.log.info(
      {
        interface: config.interface,
        ...(config.netns === undefined ? {} : { netns: config.netns }),
        source: formatMac(sourceMac(config, this.#setup?.info)),
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
    const config = this.#config;
    const link = inspectLink(this.#ctx, config, this.#loadAddon);
    const targets = resolveHubs(this.#ctx, config);
    const setup = prepareFrames(this.#ctx, config, link.info);
    this.#setup = setup;
    signal.throwIfAborted();
    this.#socket = openLink(this.#ctx, config, link);
    this.#seq = 0;
    this.#last = NO_MESSAGE;
    this.#carried = { sent: 0, dropped: 0 };
    this.#sender = this.#newSender(this.#socket, config);
    this.#subscriptions.change(targets).commit();
    this.#schedule.start(config.every);
  }

  /**
   * Applies `next` in place: prepares everything first (hubs, interface and socket when it
   * changed, frames and the MTU check) and rejects, with nothing changed, on the first problem;
   * then subscribes the new topics, switches, and unsubscribes the old ones. The periodic
   * frames keep their phase (the next one interval after the last), `${seq}` goes on, the
   * handle stays the same. After an interface change, frames queued for the old one are sent
   * there before its socket closes (bounded by `signal`).
   */
  async reload(next: unknown, signal: AbortSignal): Promise<void> {
    const config = next as RawConfig;
    const previous = this.#config;
    const running = this.#setup;
    signal.throwIfAborted();
    if (this.#sender === undefined || running === undefined) {
      // not running (stopped, crashed): the next start opens what the config says
      this.#config = config;
      return;
    }
    const prepared = prepareReload(this.#ctx, running, config, this.#loadAddon);
    let subscribed: SubscriptionChange;
    try {
      signal.throwIfAborted();
      subscribed = this.#subscriptions.change(prepared.targets);
    } catch (error) {
      prepared.socket?.close();
      throw error;
    }
    // from here on nothing fails: a frame is built wholly from the old setup or wholly from the new
    this.#config = config;
    this.#setup = prepared.setup;
    let retired: [FrameSender, RawSocket] | undefined;
    if (prepared.socket !== undefined) {
      retired = [this.#sender, this.#socket as RawSocket];
      this.#retiring.set(...retired);
      this.#socket = prepared.socket;
      this.#sender = this.#newSender(prepared.socket, config);
    } else this.#sender.setLimits(config);
    subscribed.commit();
    this.#schedule.retime(config.every);
    this.#ctx.log.info({ changed: changedFields(previous, config) }, 'reloaded');
    if (retired !== undefined) await this.#retire(...retired, signal);
  }

  /**
   * Moves the subscriptions on hub `peer` (replaced by a reload) to the handle ctx.peer(peer)
   * returns now: subscribed there first, then unsubscribed from the old one.
   */
  async rebind(peer: string, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.#sender === undefined) return;
    this.#subscriptions.change(resolveHubs(this.#ctx, this.#config)).commit();
    this.#ctx.log.info({ peer }, 'rebound');
  }

  #newSender(socket: RawSocket, config: RawConfig): FrameSender {
    const sender: FrameSender = new FrameSender({
      socket,
      maxRate: config.maxRate,
      maxQueue: config.maxQueue,
      log: this.#ctx.log,
      clock: this.#clock,
      fail: (error) => {
        // a retiring socket failing costs its last frames, not the service
        if (sender === this.#sender) this.#crash(error);
        else this.#ctx.log.warn({ err: error }, 'the previous interface failed while sending its last frames');
      },
    });
    return sender;
  }

  /** Sends what a retired sender holds on its old socket, then closes both. */
  async #retire(sender: FrameSender, socket: RawSocket, signal: AbortSignal): Promise<void> {
    await sender.drain(signal);
    if (!this.#retiring.delete(sender)) return;
    const { sent, dropped } = sender.stats();
    this.#carried = { sent: this.#carried.sent + sent, dropped: this.#carried.dropped + dropped };
    sender.close();
    socket.close();
  }

  #stats(): SenderStats {
    const all = [...this.#retiring.keys(), ...(this.#sender === undefined ? [] : [this.#sender])].map((s) => s.stats());
    return all.reduce((sum, s) => ({ sent: sum.sent + s.sent, dropped: sum.dropped + s.dropped, queued: sum.queued + s.queued }), { ...this.#carried, queued: 0 });
  }

  #onMessage(message: HubMessage): void {
    this.#emit({ data: message.data, topic: message.topic, id: message.id });
  }

  /** Builds and queues one frame; `message` undefined: a periodic frame (or a handle send without data). */
  #emit(message: { data: unknown; topic: string; id: string } | undefined): boolean {
    const sender = this.#sender;
    const setup = this.#setup;
    if (sender === undefined || setup === undefined) return false;
    const { builder, info, wake } = setup;
    let frame: Buffer;
    if (wake !== undefined) {
      const mac = (message === undefined ? undefined : macOf(message.data)) ?? wake.mac;
      if (mac === undefined) {
        this.#ctx.log.warn({ code: 'HX_ERR_RAW_FROM', topic: message?.topic }, 'message names no MAC address to wake: no frame sent');
        this.#refused++;
        return false;
      }
      frame = builder.bytes(wakeOnLanPayload(mac, wake.password));
    } else {
      if (message !== undefined) {
        const bytes = dataBytes(message.data);
        if (typeof bytes === 'string') {
          this.#ctx.log.warn({ code: 'HX_ERR_RAW_FROM', topic: message.topic }, `${bytes}: no frame sent`);
          this.#refused++;
          return false;
        }
        this.#last = { data: bytes, topic: message.topic, id: message.id };
      }
      const last = this.#last;
      frame = builder.build(setup.payload, { ts: setup.timed ? this.#clock.now() : 0, seq: this.#seq, data: last.data, topic: last.topic, id: last.id });
    }
    this.#seq += 1;
    if (frame.length > builder.headerLength + info.mtu) {
      this.#ctx.log.warn({ code: 'HX_ERR_RAW_FRAME_TOO_BIG', bytes: frame.length, mtu: info.mtu, topic: message?.topic }, 'frame dropped: larger than the interface MTU');
      this.#refused++;
      return false;
    }
    return sender.enqueue(frame);
  }

  /** A send failed for good (the interface went away...): close and report the crash. */
  #crash(error: { code?: string; message: string }): void {
    const config = this.#config;
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
        await Promise.all([sender.drain(signal), ...[...this.#retiring.keys()].map((s) => s.drain(signal))]);
        const { sent, dropped } = this.#stats();
        this.#ctx.log.info({ sent, dropped }, 'queue drained');
      }
    } finally {
      this.#teardown();
    }
  }

  /** No new frames: the periodic timer and the hub subscriptions end. */
  #quiet(): void {
    this.#schedule.stop();
    this.#subscriptions.clear();
  }

  #teardown(): void {
    this.#quiet();
    for (const [sender, socket] of this.#retiring) {
      sender.close();
      socket.close();
    }
    this.#retiring.clear();
    this.#sender?.close();
    this.#sender = undefined;
    this.#socket?.close();
    this.#socket = undefined;
  }

  /**
   * Frames the kernel took, and frames that never went out: refused before the queue (no MAC,
   * no payload, over the MTU) or dropped by the sender (queue full, interface down, left at a
   * forced stop).
   */
  figures(): readonly Figure[] {
    const { sent, dropped } = this.#stats();
    return [
      { name: 'raw_frames_sent_total', type: 'counter', help: 'Frames the kernel took for sending.', value: sent },
      { name: 'raw_errors_total', type: 'counter', help: 'Frames not sent: refused (no MAC, bad data, over the MTU) or dropped (queue full, interface down).', value: dropped + this.#refused },
    ];
  }

  /** `raw:eth0`, or `raw:eth0@ns` inside a namespace. */
  address(): string | undefined {
    if (this.#socket === undefined) return undefined;
    const config = this.#config;
    return `raw:${config.interface}${config.netns === undefined ? '' : `@${config.netns}`}`;
  }

  /** What dependents get from `ctx.peer(name)`. */
  handle(): RawHandle {
    return this.#handle;
  }
}

/** The MAC address a message names: a string, or `{ mac }`. */
function macOf(data: unknown): Buffer | undefined {
  const text = typeof data === 'string' ? data : typeof data === 'object' && data !== null ? (data as { mac?: unknown }).mac : undefined;
  return typeof text === 'string' ? parseMac(text) : undefined;
}
