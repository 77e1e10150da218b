import type { ClusterChannel, ClusterLink, WorkerPlacement } from '../kinds/contract.js';

/**
 * One message of a service channel between a worker process and the primary: `open` and
 * `close` from a member, `msg` both ways. `m` is the member (`<process>/<n>`).
 */
export interface ChannelEnvelope {
  readonly hx: 'ch';
  /** The service. */
  readonly s: string;
  /** The member. */
  readonly m: string;
  readonly op: 'open' | 'msg' | 'close';
  /** The payload of `msg`. */
  readonly d?: unknown;
}

/** True when an IPC message is a channel envelope. */
export function isChannelEnvelope(message: unknown): message is ChannelEnvelope {
  return typeof message === 'object' && message !== null && (message as { hx?: unknown }).hx === 'ch';
}

/** The worker's side of every service channel of one process. */
export interface WorkerChannels {
  /** The `ctx.cluster` of a service instance in this process. */
  link(service: string): ClusterLink;
  /** Routes an envelope from the primary to the member it names. */
  receive(envelope: ChannelEnvelope): void;
  /** Marks the process as retired by the primary (a rolling reload): `link.retiring` turns true. */
  retire(): void;
}

/**
 * Builds the channels of one worker process: `process` is its key (`w1.2`: slot 1, second
 * process in it), `send` carries an envelope to the primary (IPC).
 */
export function createWorkerChannels(
  process: string,
  worker: { readonly id: number; readonly role: WorkerPlacement; readonly count: number },
  send: (envelope: ChannelEnvelope) => void,
): WorkerChannels {
  const listeners = new Map<string, (message: unknown) => void>();
  let serial = 0;
  let retiring = false;
  const frozenWorker = Object.freeze({ ...worker });
  return {
    link(service) {
      return {
        worker: frozenWorker,
        get retiring() {
          return retiring;
        },
        open(listener): ClusterChannel {
          const member = `${process}/${++serial}`;
          listeners.set(member, listener);
          send({ hx: 'ch', s: service, m: member, op: 'open' });
          let open = true;
          return {
            send(message) {
              if (open) send({ hx: 'ch', s: service, m: member, op: 'msg', d: message });
            },
            close() {
              if (!open) return;
              open = false;
              listeners.delete(member);
              send({ hx: 'ch', s: service, m: member, op: 'close' });
            },
          };
        },
      };
    },
    receive(envelope) {
      if (envelope.op !== 'msg') return;
      listeners.get(envelope.m)?.(envelope.d);
    },
    retire() {
      retiring = true;
    },
  };
}
