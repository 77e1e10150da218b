import type { Logger } from 'pino';
import type { ClusterChannel, ClusterLink } from '../../src/kinds/contract.js';
import { lazyWireMessage, type Backplane, type DumpedMessage, type SharedHistory, type WireMessage } from './backplane.js';
import type { HubChannelMessage, PublishRequest, SequencedMessage } from './cluster-coordinator.js';

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

/**
 * The backplane of a hub that runs in several processes of one graph (`workers:`): its
 * channel to the hub's coordinator in the primary (cluster-coordinator.ts), which gives every
 * message its id and sends it to every instance, this one included, in one order. One IPC
 * message per batch each way — the publishes of one turn here, the messages the coordinator
 * sequenced together there — whatever the number of subscribers; the data crosses as JSON text
 * and is parsed here only when something reads it (a handle listener), never for WebSocket
 * fan-out.
 *
 * A start joins: the coordinator has a donor instance snapshot its history for this one; what
 * is published meanwhile is kept until the snapshot (the `welcome`) arrives, then applied after
 * it — nothing lost, nothing twice. Start resolves once welcomed.
 */
export class ClusterBackplane implements Backplane {
  readonly #link: ClusterLink;
  readonly #log: Logger;
  #channel: ClusterChannel | undefined;
  #listener: (message: WireMessage) => void = () => undefined;
  #history: SharedHistory | undefined;
  #epoch = '';
  /** This instance's member key (the welcome says it): its own messages come back with it. */
  #member = '';
  /** What came before the welcome, applied after the snapshot; undefined once welcomed. */
  #early: WireMessage[] | undefined;
  #joining: Waiter<void> | undefined;
  #welcomed = false;
  #ref = 0;
  readonly #pending = new Map<number, Waiter<WireMessage>>();
  /** The publishes of this turn, sent together when it ends (one IPC message, not one each). */
  #outgoing: PublishRequest[] = [];

  /** `link`: the service's `ctx.cluster`. Opens nothing. */
  constructor(link: ClusterLink, options: { log: Logger }) {
    this.#link = link;
    this.#log = options.log;
  }

  onMessage(listener: (message: WireMessage) => void): void {
    this.#listener = listener;
  }

  share(history: SharedHistory): void {
    this.#history = history;
  }

  /** The coordinator's epoch (known once welcomed). */
  epoch(): string {
    return this.#epoch;
  }

  /**
   * Opens the channel and resolves once the coordinator welcomed this instance with the
   * history; rejects (and leaves) when `signal` aborts first.
   */
  start(signal: AbortSignal): Promise<void> {
    if (this.#channel !== undefined) return Promise.reject(new Error('the cluster backplane is already started'));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#joining = undefined;
        this.#leave('the start was aborted');
        reject(new Error('the coordinator in the primary did not welcome this instance before the start was aborted'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal.removeEventListener('abort', onAbort);
      this.#joining = { resolve: () => (done(), resolve()), reject: (error) => (done(), reject(error)) };
      this.#early = [];
      this.#channel = this.#link.open((message) => this.#receive(message as HubChannelMessage));
    });
  }

  /** Sends the message to the coordinator; resolves when it comes back with its id. */
  publish(topic: string, data: unknown, json?: string): Promise<WireMessage> {
    const channel = this.#channel;
    if (channel === undefined || !this.#welcomed) return Promise.reject(new Error(channel === undefined ? 'the hub is stopped' : 'the hub has not joined yet'));
    const text = json ?? JSON.stringify(data);
    if (text === undefined) return Promise.reject(new Error(`the data published on ${topic} is not JSON`));
    const ref = ++this.#ref;
    return new Promise<WireMessage>((resolve, reject) => {
      this.#pending.set(ref, { resolve, reject });
      // after the poll phase: what every connection read this turn goes to the primary at once
      if (this.#outgoing.push({ ref, topic, json: text }) === 1) setImmediate(() => this.#sendPublishes());
    });
  }

  /** Tells the coordinator this instance forgot `topic`: it forgets the counter once every instance did. */
  forget(topic: string): void {
    if (this.#welcomed) this.#send({ t: 'forget', topic });
  }

  /** Sends the publishes of this turn, if any (before anything else is sent: order holds). */
  #sendPublishes(): void {
    const list = this.#outgoing;
    if (list.length === 0) return;
    this.#outgoing = [];
    this.#channel?.send({ t: 'pubs', list } satisfies HubChannelMessage);
  }

  #send(message: HubChannelMessage): void {
    this.#sendPublishes();
    this.#channel?.send(message);
  }

  /** Leaves (closes the channel); publishes still waiting, and any after, reject. */
  async stop(): Promise<void> {
    this.#leave('the hub stopped');
  }

  #leave(why: string): void {
    const channel = this.#channel;
    this.#channel = undefined;
    this.#welcomed = false;
    this.#early = undefined;
    this.#outgoing = [];
    channel?.close();
    const joining = this.#joining;
    this.#joining = undefined;
    joining?.reject(new Error(`${why} before the coordinator in the primary welcomed this instance`));
    for (const waiter of this.#pending.values()) waiter.reject(new Error(`${why} before the message was sequenced`));
    this.#pending.clear();
  }

  #receive(message: HubChannelMessage): void {
    switch (message.t) {
      case 'msgs':
        return this.#receiveBatch(message.epoch, message.list);
      case 'dump':
        // synchronous: the snapshot is exactly what arrived before `dump`
        return this.#send({ t: 'dumped', for: message.for, history: this.#history?.dump() ?? [] });
      case 'welcome':
        return this.#welcome(message.epoch, message.member, message.history as DumpedMessage[]);
      default:
        this.#log.warn({ type: (message as { t?: unknown }).t }, 'unknown hub channel message dropped');
    }
  }

  /**
   * Delivers a batch of messages from the coordinator, in order, all in this turn (so that the
   * hub's connections write them out together), and resolves this instance's own publishes
   * among them. A listener that stops the hub midway ends the batch there, as a closed channel
   * would have ended a stream of single messages.
   */
  #receiveBatch(epoch: string, list: readonly SequencedMessage[]): void {
    for (const { topic, seq, ts, json, from, ref } of list) {
      if (this.#channel === undefined) return;
      const wire = lazyWireMessage(topic, epoch, seq, ts, json);
      if (this.#early !== undefined) {
        this.#early.push(wire);
        continue;
      }
      this.#deliver(wire);
      if (from !== this.#member) continue;
      const waiter = this.#pending.get(ref);
      this.#pending.delete(ref);
      waiter?.resolve(wire);
    }
  }

  /**
   * Restores the snapshot, then applies what came since the join. A snapshot taken after the
   * join (the first donor left, another was asked) already holds some of it: a message whose
   * topic the snapshot has up to its seq or beyond is not applied again.
   */
  #welcome(epoch: string, member: string, history: readonly DumpedMessage[]): void {
    const early = this.#early;
    if (early === undefined || this.#joining === undefined) return;
    this.#epoch = epoch;
    this.#member = member;
    this.#history?.restore(history);
    const restored = new Map<string, number>();
    for (const { topic, epoch: e, seq } of history) if (e === epoch && seq > (restored.get(topic) ?? 0)) restored.set(topic, seq);
    this.#early = undefined;
    this.#welcomed = true;
    for (const message of early) if (message.seq > (restored.get(message.topic) ?? 0)) this.#deliver(message);
    const joining = this.#joining;
    this.#joining = undefined;
    this.#log.debug({ member, epoch, restored: history.length, early: early.length }, 'hub joined');
    joining.resolve();
  }

  /** Calls the listener; a throw is logged, never breaks the channel. */
  #deliver(message: WireMessage): void {
    try {
      this.#listener(message);
    } catch (err) {
      this.#log.error({ err, topic: message.topic, id: message.id }, 'backplane listener failed');
    }
  }
}
