import type { Logger } from 'pino';
import type { Coordinator, CoordinatorContext } from '../kinds/contract.js';
import type { ChannelEnvelope } from './channels.js';

/** A coordinator factory, as a kind's `workers.coordinator` resolves it. */
export type CoordinatorFactory = (ctx: CoordinatorContext) => Coordinator;

interface Entry {
  readonly coordinator: Coordinator;
  /** Member → the process key it lives in. */
  readonly members: Map<string, string>;
  config: unknown;
}

/**
 * The primary's side of the service channels: one coordinator per service that has one, the
 * members (open channels) of each, and the routing of envelopes between them and the worker
 * processes. Transport-agnostic: `send(process, envelope)` is IPC in the primary, a function
 * call in tests.
 */
export class CoordinatorHost {
  readonly #entries = new Map<string, Entry>();
  readonly #send: (process: string, envelope: ChannelEnvelope) => void;
  readonly #log: Logger;

  constructor(options: { send: (process: string, envelope: ChannelEnvelope) => void; log: Logger }) {
    this.#send = options.send;
    this.#log = options.log;
  }

  /** Starts the coordinator of `service`. */
  add(service: string, config: unknown, factory: CoordinatorFactory): void {
    const members = new Map<string, string>();
    const entry: Entry = { coordinator: undefined as unknown as Coordinator, members, config };
    const ctx: CoordinatorContext = {
      name: service,
      get config() {
        return entry.config;
      },
      log: this.#log.child({ service }),
      send: (member, message) => {
        const process = members.get(member);
        if (process !== undefined) this.#send(process, { hx: 'ch', s: service, m: member, op: 'msg', d: message });
      },
      broadcast: (message) => {
        for (const [member, process] of members) this.#send(process, { hx: 'ch', s: service, m: member, op: 'msg', d: message });
      },
      members: () => [...members.keys()],
    };
    (entry as { coordinator: Coordinator }).coordinator = factory(ctx);
    this.#entries.set(service, entry);
  }

  /** Whether `service` has a coordinator. */
  has(service: string): boolean {
    return this.#entries.has(service);
  }

  /** Passes a reloaded config to the coordinator of `service`. */
  reload(service: string, config: unknown): void {
    const entry = this.#entries.get(service);
    if (!entry) return;
    entry.config = config;
    this.#guard(service, () => entry.coordinator.reload?.(config));
  }

  /** Routes an envelope that `process` sent. */
  receive(process: string, envelope: ChannelEnvelope): void {
    const entry = this.#entries.get(envelope.s);
    if (!entry) return void this.#log.warn({ service: envelope.s }, 'a message for a service without a coordinator');
    const { coordinator, members } = entry;
    if (envelope.op === 'open') {
      members.set(envelope.m, process);
      this.#guard(envelope.s, () => coordinator.join?.(envelope.m));
    } else if (envelope.op === 'close') {
      if (members.delete(envelope.m)) this.#guard(envelope.s, () => coordinator.leave?.(envelope.m));
    } else if (members.has(envelope.m)) {
      this.#guard(envelope.s, () => coordinator.message(envelope.m, envelope.d));
    }
  }

  /** A process ended: every member it had leaves. */
  processGone(process: string): void {
    for (const [service, { coordinator, members }] of this.#entries) {
      for (const [member, p] of [...members]) {
        if (p !== process) continue;
        members.delete(member);
        this.#guard(service, () => coordinator.leave?.(member));
      }
    }
  }

  /** Closes every coordinator (the graph stopped). */
  close(): void {
    for (const [service, { coordinator }] of this.#entries) this.#guard(service, () => coordinator.close?.());
    this.#entries.clear();
  }

  /** A coordinator that throws is a bug of its kind: logged, never the primary's end. */
  #guard(service: string, run: () => void): void {
    try {
      run();
    } catch (err) {
      this.#log.error({ err, service }, 'coordinator failed');
    }
  }
}
