import type { GraphView } from '../kinds/contract.js';

/** What a test context records of what a service reports: its crashes and what it waits for. */
export interface LifecycleRecorder {
  /** Every `crashed()` call's error, in order. */
  readonly crashes: unknown[];
  /** Every `waiting()` call, in order. */
  readonly waits: { reason: string; cause: unknown }[];
  /** ServiceContext.crashed, recording. */
  crashed(error?: unknown): void;
  /** ServiceContext.waiting, recording. */
  waiting(reason: string, cause?: unknown): void;
  /** ServiceContext.graph of a graph of this service alone, ready unless `draining` is set. */
  readonly graph: GraphView & { draining: boolean };
}

/** The recording `crashed()` and `waiting()` of a test ServiceContext, with what they recorded. */
export function recordLifecycle(): LifecycleRecorder {
  const crashes: unknown[] = [];
  const waits: { reason: string; cause: unknown }[] = [];
  return {
    crashes,
    waits,
    crashed: (error?: unknown) => void crashes.push(error),
    waiting: (reason: string, cause?: unknown) => void waits.push({ reason, cause }),
    graph: {
      draining: false,
      readiness() {
        return { ready: !this.draining, draining: this.draining, waiting: {} };
      },
    },
  };
}
