import type { Logger } from 'pino';
import type { WorkerPlacement } from '../kinds/contract.js';
import type { Clock, TimerHandle } from '../runtime/clock.js';
import type { Supervisor } from '../runtime/supervisor.js';
import type { Plan } from '../runtime/plan.js';
import type { CoordinatorHost } from './coordinator-host.js';
import type { PrimaryMessage, ServiceOp, TransitionBody, WorkerIdentity, WorkerMessage } from './ipc.js';
import type { Placement } from './placement.js';

/** A forked worker process, as the primary drives it (node:cluster's Worker, in the CLI). */
export interface WorkerProcess {
  readonly pid: number | undefined;
  send(message: PrimaryMessage): void;
  kill(signal: NodeJS.Signals): void;
  onMessage(listener: (message: WorkerMessage) => void): void;
  onExit(listener: (code: number | null, signal: string | null) => void): void;
}

/** Forks one worker process with this identity. */
export type ForkWorker = (identity: WorkerIdentity) => WorkerProcess;

/**
 * What the primary tells the admin API (src/workers/admin-source.ts): a process of a slot
 * changed (`forked`, `ready`, `replaced` — a new process ready in place of one that died or
 * was retired —, `retiring`, `died`, `failed`, `exited`), or a worker process reported a
 * transition or waiting reason of one of its services.
 */
export type PrimaryEvent =
  | { readonly type: 'worker'; readonly worker: string; readonly pid: number | undefined; readonly state: string; readonly error?: string; readonly was?: number | undefined }
  | { readonly type: 'transition'; readonly worker: string; readonly pid: number | undefined; readonly event: TransitionBody }
  | { readonly type: 'waiting'; readonly worker: string; readonly pid: number | undefined; readonly service: string; readonly kind: string; readonly reason: string };

/** One slot as processes() describes it: for logs, `GET /workers` and status. */
export interface SlotView {
  /** 1..N, or 0 for the once process. */
  readonly id: number;
  readonly role: WorkerPlacement;
  readonly pid: number | undefined;
  /** starting, ready, stopping, stopped, restarting, failed. */
  readonly state: string;
  /** Clock time of the slot's last change. */
  readonly since: number;
  readonly restarts: number;
}

/** A request of the primary that a process answers (`answer` / `answer-failed`). */
export type ProcessRequest = { hx: 'figures' } | { hx: 'op'; op: ServiceOp; service: string };

/** What a primary needs. */
export interface PrimaryOptions {
  readonly plan: Plan;
  readonly placement: Placement;
  /** How many workers. */
  readonly count: number;
  readonly logger: Logger;
  readonly fork: ForkWorker;
  readonly coordinators: CoordinatorHost;
  readonly clock?: Clock | undefined;
  /**
   * The graph is to stop because a service failed for good (its `onFailed` is stop): a service
   * inside a worker, or a worker process its restart policy gave up on.
   */
  readonly onFailed: (service: string, error: unknown) => void;
}

/** How a process ended, in words: `exited with code 1`, `killed by SIGKILL`. */
export function exitWords(code: number | null, signal: string | null): string {
  return signal ? `killed by ${signal}` : `exited with code ${code}`;
}

/** The id a slot has in status and events: `1`..`N`, `once`. */
export function slotKey(id: number): string {
  return id === 0 ? 'once' : String(id);
}

/** One process of a slot (the primary's bookkeeping). */
export interface Proc {
  readonly identity: WorkerIdentity;
  readonly child: WorkerProcess;
  readonly ready: Promise<Readonly<Record<string, string>>>;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  state: 'starting' | 'ready' | 'stopping' | 'exited';
  /** The primary stops it (a stop, a rolling replacement): its exit is no crash. */
  expected: boolean;
  upSince: number | undefined;
  readonly replies: Map<number, { resolve: (r: never) => void; reject: (e: unknown) => void }>;
}

/** One place a process runs in: worker 1..N, or 0 for the once-services (the primary's bookkeeping). */
export interface Slot {
  readonly id: number;
  readonly role: WorkerPlacement;
  processes: number;
  current: Proc | undefined;
  /** Every process of the slot not exited yet: during a rolling replacement, two. */
  readonly live: Set<Proc>;
  readonly supervisor: Supervisor;
  timer: TimerHandle | undefined;
  failed: boolean;
  /** The clock time of the slot's last change (forked, ready, died). */
  since: number;
  /** Replacements after a crash. */
  restarts: number;
}
