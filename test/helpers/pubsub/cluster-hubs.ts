import type { Logger } from 'pino';
import { createSilentLogger } from '../../../src/log/logger.js';
import type { ClusterLink, WorkerPlacement } from '../../../src/kinds/contract.js';
import type { WorkerChannels } from '../../../src/workers/channels.js';
import { ClusterBackplane } from '../../../services/pubsub/cluster-backplane.js';
import { HubCoordinator } from '../../../services/pubsub/cluster-coordinator.js';
import type { HubMessage } from '../../../services/pubsub/handle.js';
import { Hub } from '../../../services/pubsub/hub.js';
import { TopicRules } from '../../../services/pubsub/topic-rules.js';
import { createLocalCluster } from '../cluster-bus.js';

/** One hub instance of a ClusterHubs: a real Hub on a ClusterBackplane, and what it delivered. */
export interface ClusterHub {
  readonly hub: Hub;
  readonly backplane: ClusterBackplane;
  /** Every message delivered to a subscription on `>` made right after the hub was built. */
  readonly received: HubMessage[];
  /** Resolves once welcomed (the backplane's start). */
  readonly started: Promise<void>;
  /** Stops the hub and its backplane (leaves the coordinator). */
  stop(): Promise<void>;
}

/** What every hub of a ClusterHubs keeps: every topic, up to 10 000 messages each. */
export const KEEP_ALL = { '>': { history: 10_000, ttl: 0 } };

/**
 * One hub service across fake worker processes inside the test process: the service's
 * HubCoordinator in a CoordinatorHost and hubs joined to it through test/helpers/cluster-bus.ts
 * (JSON-copied, asynchronous, ordered — as IPC). `kill(key)` ends a process abruptly.
 */
export function createClusterHubs(options: { log?: Logger; topics?: Record<string, { history: number; ttl: number }> } = {}) {
  const log = options.log ?? createSilentLogger();
  const bus = createLocalCluster(log);
  let coordinator: HubCoordinator | undefined;
  bus.host.add('hub', {}, (ctx) => (coordinator = new HubCoordinator(ctx)));
  const processes = new Map<string, WorkerChannels>();
  const hubs: ClusterHub[] = [];
  const rules = TopicRules.create(options.topics ?? KEEP_ALL, { service: 'hub', baseDir: '.', locate: () => undefined });

  const channels = (key: string, role: WorkerPlacement = 'each'): WorkerChannels => {
    let found = processes.get(key);
    if (found === undefined) {
      found = bus.process(key, { id: processes.size + 1, role, count: 2 });
      processes.set(key, found);
    }
    return found;
  };

  return {
    bus,
    /** The coordinator the host built. */
    coordinator(): HubCoordinator {
      if (coordinator === undefined) throw new Error('no coordinator');
      return coordinator;
    },
    /** The `ctx.cluster` of the hub service in process `key` (created on first use). */
    link(key: string, role: WorkerPlacement = 'each'): ClusterLink {
      return channels(key, role).link('hub');
    },
    /** The channels of process `key` (to retire it). */
    channels,
    /** Builds a hub in process `key` and starts joining; await `started` for the welcome. */
    async join(key: string): Promise<ClusterHub> {
      const backplane = new ClusterBackplane(channels(key).link('hub'), { log });
      const hub = new Hub({ rules: await rules, backplane, log, limits: { bytes: 1e9, topics: 1e6, idle: 3_600_000 } });
      const received: HubMessage[] = [];
      hub.subscribe('>', Hub.listener((message) => received.push(message)));
      const started = backplane.start(AbortSignal.timeout(10_000));
      started.catch(() => undefined);
      const member: ClusterHub = {
        hub,
        backplane,
        received,
        started,
        async stop() {
          hub.close();
          await backplane.stop();
        },
      };
      hubs.push(member);
      return member;
    },
    /** Ends process `key` abruptly: its hubs hear nothing more, the coordinator sees them leave. */
    kill(key: string): void {
      processes.delete(key);
      bus.kill(key);
    },
    /** Stops every hub and the coordinator. */
    async close(): Promise<void> {
      for (const member of hubs.splice(0)) await member.stop();
      bus.host.close();
    },
  };
}

/**
 * Waits until `done()` holds, checking after every turn of the event loop; fails after a
 * generous deadline with `what` (a guard against waiting forever, not a timing assertion).
 */
export async function until(done: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
