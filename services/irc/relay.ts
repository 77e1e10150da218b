import type { ServiceContext } from '../../src/kinds/contract.js';
import type { HubHandle, HubMessage } from '../pubsub/handle.js';
import { firstLine, ircError } from './errors.js';
import { renderFormat } from './format.js';
import { parseEndpoint } from './relay-endpoint.js';
import type { IrcConfig, RelayConfig } from './schema.js';
import type { IncomingMessage } from './incoming.js';

/** Whether a peer has a hub's publish and subscribe (the plan already checked that it is a pubsub). */
function isHub(value: unknown): value is HubHandle {
  const handle = value as Partial<HubHandle> | null | undefined;
  return typeof handle?.publish === 'function' && typeof handle.subscribe === 'function';
}

/** How the relay sends a line to a channel. */
export type RelaySend = (command: 'PRIVMSG' | 'NOTICE', channel: string, text: string) => void;

/** A channel → hub route. */
interface ToHub {
  readonly index: number;
  readonly channel: string;
  readonly hub: HubHandle;
  readonly service: string;
  readonly topic: string;
  readonly format: string | undefined;
}

/** What a channel line becomes on the hub when the entry has no `format`. */
export interface RelayedLine {
  readonly channel: string;
  readonly nick: string;
  readonly text: string;
  /** ISO 8601. */
  readonly time: string;
  /** Set for a /me action. */
  readonly action?: true;
  /** The bot (service name) that relayed it: hub → channel entries of that bot skip it, so nothing echoes back. */
  readonly bot: string;
}

/** A hub → channel route: the hub, the pattern, and the listener that queues the line. */
interface FromHub {
  readonly service: string;
  readonly hub: HubHandle;
  readonly pattern: string;
  readonly listener: (message: HubMessage) => void;
}

/**
 * The `relay` entries of a bot, wired: hub subscriptions that queue lines for channels, and
 * channel lines published to hub topics. Hubs are reached only through ctx.peer(). Built in
 * two steps, so that a reload (or a rebind to a replaced hub) checks everything before it
 * touches the relay running now: prepare() resolves every hub, subscribe() subscribes.
 */
export class IrcRelay {
  readonly #ctx: ServiceContext<IrcConfig>;
  readonly #fromHub: FromHub[] = [];
  readonly #toHub: ToHub[] = [];
  readonly #unsubscribes: (() => void)[] = [];
  #active = false;

  private constructor(ctx: ServiceContext<IrcConfig>) {
    this.#ctx = ctx;
  }

  /**
   * Checks the entries and reaches every hub they name (`ctx.peer()` now), subscribing to
   * nothing yet; HX_ERR_IRC_RELAY when a name is no hub. `send` queues a line for a channel.
   */
  static prepare(ctx: ServiceContext<IrcConfig>, entries: readonly RelayConfig[], send: RelaySend): IrcRelay {
    const relay = new IrcRelay(ctx);
    entries.forEach((entry, index) => relay.#add(entry, index, send));
    return relay;
  }

  /** Whether an entry names the service `name` (a hub). */
  uses(name: string): boolean {
    return this.#fromHub.some((r) => r.service === name) || this.#toHub.some((r) => r.service === name);
  }

  /** Subscribes the hub → channel entries and starts publishing channel lines; all or nothing. */
  subscribe(): void {
    if (this.#active) return;
    try {
      for (const route of this.#fromHub) this.#unsubscribes.push(route.hub.subscribe(route.pattern, route.listener));
    } catch (error) {
      this.detach();
      throw error;
    }
    this.#active = true;
  }

  #add(entry: RelayConfig, index: number, send: RelaySend): void {
    const ctx = this.#ctx;
    const from = parseEndpoint(entry.from, 'from');
    const to = parseEndpoint(entry.to, 'to');
    if ('problem' in from || 'problem' in to) {
      // the schema reports these; a hand-made config may still carry one
      const side = 'problem' in from ? 'from' : 'to';
      throw ircError(ctx, 'HX_ERR_IRC_RELAY', ['relay', index, side], `relay ${side}: ${'problem' in from ? from.problem : (to as { problem: string }).problem}`);
    }
    if (from.type === 'hub' && to.type === 'channel') {
      const hub = this.#hub(from.service, index, 'from');
      const format = entry.format ?? '{data}';
      const command = entry.notice ? 'NOTICE' : 'PRIVMSG';
      const listener = (message: HubMessage): void => {
        const data = message.data as { bot?: unknown } | null;
        if (data !== null && typeof data === 'object' && data.bot === ctx.name) return; // our own relayed line
        const text = renderFormat(format, { data: message.data, topic: message.topic, id: message.id, time: new Date(message.ts).toISOString() });
        try {
          send(command, to.channel, text);
        } catch (error) {
          ctx.log.warn({ err: error, topic: message.topic }, 'relayed message not sent');
        }
      };
      this.#fromHub.push({ service: from.service, hub, pattern: from.topic, listener });
    } else if (from.type === 'channel' && to.type === 'hub') {
      const hub = this.#hub(to.service, index, 'to');
      this.#toHub.push({ index, channel: from.channel.toLowerCase(), hub, service: to.service, topic: to.topic, format: entry.format });
    }
  }

  /** Publishes a channel line to every hub topic its channel relays to. */
  onMessage(message: IncomingMessage): void {
    if (!this.#active || message.channel === undefined || this.#toHub.length === 0) return;
    const channel = message.channel.toLowerCase();
    const time = new Date(message.time).toISOString();
    for (const route of this.#toHub) {
      if (route.channel !== channel) continue;
      const data: unknown =
        route.format === undefined
          ? ({ channel: message.channel, nick: message.nick, text: message.text, time, ...(message.action ? { action: true as const } : {}), bot: this.#ctx.name } satisfies RelayedLine)
          : renderFormat(route.format, { nick: message.nick, channel: message.channel, text: message.text, time });
      let published: Promise<string>;
      try {
        published = route.hub.publish(route.topic, data);
      } catch (error) {
        published = Promise.reject(error);
      }
      published.catch((error: unknown) => {
        const hx = ircError(this.#ctx, 'HX_ERR_IRC_RELAY_PUBLISH', ['relay', route.index, 'to'], `${route.service}:${route.topic}: ${firstLine(error)}`, error);
        this.#ctx.log.warn({ code: hx.code, channel: message.channel, topic: route.topic, reason: firstLine(error), location: hx.location }, hx.message);
      });
    }
  }

  /** Unsubscribes from every hub and stops publishing; subscribe() may start it again. */
  detach(): void {
    this.#active = false;
    for (const unsubscribe of this.#unsubscribes.splice(0)) {
      try {
        unsubscribe();
      } catch (error) {
        this.#ctx.log.warn({ err: error }, 'unsubscribe from the hub failed');
      }
    }
  }

  #hub(service: string, index: number, side: 'from' | 'to'): HubHandle {
    let peer: unknown;
    try {
      peer = this.#ctx.peer<unknown>(service);
    } catch (error) {
      throw ircError(this.#ctx, 'HX_ERR_IRC_RELAY', ['relay', index, side], `relay ${side}: cannot reach ${service}: ${firstLine(error)}`, error);
    }
    if (!isHub(peer)) {
      throw ircError(this.#ctx, 'HX_ERR_IRC_RELAY', ['relay', index, side], `relay ${side}: \`${service}\` is not a pubsub hub (it has no publish/subscribe)`);
    }
    return peer;
  }
}
