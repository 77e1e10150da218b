import type { Logger } from 'pino';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { joinLines, partLines } from './protocol.js';

/** A channel to join, with where it is in the manifest. */
export interface ChannelSpec {
  readonly name: string;
  readonly key: string | undefined;
  readonly index: number;
}

/** What the channels of one connection need from it. */
export interface JoinHost {
  /** Writes a raw line (JOIN, PART) to the connection. */
  raw(line: string): void;
  /** Whether the connection is registered and up. */
  readonly ready: boolean;
  /** Runs `fn` after `ms`, unless the connection closes first. */
  setTimer(fn: () => void, ms: number): void;
  /** The error of a refused join (HX_ERR_IRC_JOIN at the channel's entry). */
  refusal(channel: ChannelSpec, why: string): HendrixError;
  /** The error of a join cut short: the connection closed first. */
  lost(channel: ChannelSpec): HendrixError;
  /** How long after a kick the bot joins again (`reconnect.initial` now). */
  rejoinDelay(): number;
  readonly log: Logger;
}

/** A JOIN sent and not answered yet. */
interface PendingJoin {
  readonly spec: ChannelSpec;
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: HendrixError): void;
}

const keyOf = (name: string): string => name.toLowerCase();

/**
 * The channels of one connection: the list the bot wants to be in (joined at registration,
 * rejoined after a kick, changed by a reload) and the JOINs waiting for the server's answer.
 */
export class ChannelJoins {
  readonly #host: JoinHost;
  readonly #pending = new Map<string, PendingJoin>();
  /** The channels the server says the bot is in now (lowercase), for the service's figures. */
  readonly #in = new Set<string>();
  #wanted: readonly ChannelSpec[];

  constructor(host: JoinHost, channels: readonly ChannelSpec[]) {
    this.#host = host;
    this.#wanted = channels;
  }

  /** The channels the bot wants to be in. */
  get wanted(): readonly ChannelSpec[] {
    return this.#wanted;
  }

  /** How many channels the bot is in now (joined, not parted or kicked since). */
  get count(): number {
    return this.#in.size;
  }

  /** Sets the channels the bot wants to be in (a reload): a later kick rejoins from this list. */
  want(channels: readonly ChannelSpec[]): void {
    this.#wanted = channels;
  }

  /**
   * Joins `channels` (keyed ones with their key, in as few JOIN lines as fit); resolves once
   * the server confirmed each, rejects at the first refusal (HX_ERR_IRC_JOIN) or when the
   * connection closes first.
   */
  join(channels: readonly ChannelSpec[]): Promise<void> {
    const fresh = channels.filter((c) => !this.#pending.has(keyOf(c.name)));
    const waits = channels.map((spec) => this.#pending.get(keyOf(spec.name))?.done ?? this.#expect(spec));
    for (const line of joinLines(fresh)) this.#host.raw(line);
    return Promise.all(waits).then(() => undefined);
  }

  /** Leaves `names` with `message` (PART), without waiting for the server. */
  part(names: readonly string[], message: string): void {
    for (const name of names) {
      this.#in.delete(keyOf(name));
      this.#pending.get(keyOf(name))?.resolve();
    }
    for (const line of partLines(names, message)) this.#host.raw(line);
  }

  /** The server confirmed a JOIN of the bot. */
  joined(channel: string): void {
    this.#in.add(keyOf(channel));
    const pending = this.#pending.get(keyOf(channel));
    if (pending === undefined) return;
    this.#host.log.debug({ channel }, 'joined');
    pending.resolve();
  }

  /** The server refused a JOIN (a numeric of JOIN_REFUSALS); `why` says which. */
  refused(channel: string, why: string): void {
    const pending = this.#pending.get(keyOf(channel));
    if (pending !== undefined) pending.reject(this.#host.refusal(pending.spec, why));
  }

  /** The bot was kicked: it joins again after `rejoinDelay`, if the channel is still wanted then. */
  kicked(channel: string, by: string, reason: string): void {
    this.#in.delete(keyOf(channel));
    const delay = this.#host.rejoinDelay();
    const log = this.#host.log;
    log.warn({ channel, by, reason, rejoinIn: delay }, 'kicked from a channel');
    if (!this.#wanted.some((c) => keyOf(c.name) === keyOf(channel))) return;
    this.#host.setTimer(() => {
      const spec = this.#wanted.find((c) => keyOf(c.name) === keyOf(channel));
      if (!this.#host.ready || spec === undefined) return;
      // the bot stays up for its other channels: a refusal now is logged, not fatal
      this.join([spec]).catch((error: HendrixError) => {
        if (error.code === 'HX_ERR_IRC_JOIN') log.error({ code: error.code, channel: spec.name, reason: error.message, location: error.location }, error.message);
      });
    }, delay);
  }

  /** The connection closed: every JOIN still waiting fails. */
  abandon(): void {
    for (const pending of [...this.#pending.values()]) pending.reject(this.#host.lost(pending.spec));
  }

  #expect(spec: ChannelSpec): Promise<void> {
    const key = keyOf(spec.name);
    let settle!: { resolve: () => void; reject: (error: HendrixError) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const finish = (): boolean => this.#pending.get(key)?.done === done && this.#pending.delete(key);
    this.#pending.set(key, {
      spec,
      done,
      resolve: () => finish() && settle.resolve(),
      reject: (error) => finish() && settle.reject(error),
    });
    // nobody may be waiting (a rejoin whose connection closes): never an unhandled rejection
    done.catch(() => undefined);
    return done;
  }
}
