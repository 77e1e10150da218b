import type { Logger } from 'pino';
import type { WorkerPlacement } from '../../src/kinds/contract.js';
import { createWorkerChannels, type ChannelEnvelope, type WorkerChannels } from '../../src/workers/channels.js';
import { CoordinatorHost } from '../../src/workers/coordinator-host.js';

/**
 * The service channels of a cluster inside one test process: a CoordinatorHost (the primary's
 * side) and any number of worker channel sets, joined the way IPC joins them — JSON-copied,
 * asynchronous, in order per direction. For unit tests of a kind's coordinator; the
 * end-to-end tests run real worker processes.
 */
export function createLocalCluster(log: Logger) {
  const processes = new Map<string, WorkerChannels>();
  const copy = (envelope: ChannelEnvelope): ChannelEnvelope => JSON.parse(JSON.stringify(envelope)) as ChannelEnvelope;
  const host = new CoordinatorHost({
    log,
    send: (process, envelope) => {
      const sent = copy(envelope);
      setImmediate(() => processes.get(process)?.receive(sent));
    },
  });
  return {
    host,
    /** Adds a worker process; its `link(service)` is what `ctx.cluster` is there. */
    process(key: string, worker: { id: number; role: WorkerPlacement; count: number }): WorkerChannels {
      const channels = createWorkerChannels(key, worker, (envelope) => {
        const sent = copy(envelope);
        setImmediate(() => {
          if (processes.has(key)) host.receive(key, sent);
        });
      });
      processes.set(key, channels);
      return channels;
    },
    /** Ends a process abruptly (SIGKILL): its members leave, nothing more reaches it. */
    kill(key: string): void {
      processes.delete(key);
      setImmediate(() => host.processGone(key));
    },
  };
}
