import type { WorkerPlacement } from '../kinds/contract.js';
import type { ReloadOptions } from '../runtime/reload.js';
import type { ChannelEnvelope } from './channels.js';

/** Who a worker process is, as the primary tells it (env HENDRIX_WORKER, JSON). */
export interface WorkerIdentity {
  /** The slot: 1..count for workers, 0 for the process of the once-services. */
  readonly id: number;
  readonly role: WorkerPlacement;
  /** How many workers the graph has. */
  readonly count: number;
  /** The process key: `w<slot>.<n>` (`o.<n>` for the once process); n counts processes of the slot. */
  readonly key: string;
}

/** An error as it crosses IPC (errorToJson). */
export type ErrorBody = { readonly errors: unknown[]; readonly error: { readonly code: string; readonly message: string } };

/** The outcome of one service-graph reload in one process, as it crosses IPC. */
export interface ProcessReloadResult {
  readonly applied: boolean;
  readonly fingerprint: string;
  /** The steps taken (`web in place 9 ms`). */
  readonly steps: readonly unknown[];
}

/** What the primary sends to a worker process. */
export type PrimaryMessage =
  | { readonly hx: 'stop'; readonly retire?: boolean }
  | { readonly hx: 'force' }
  | { readonly hx: 'reload'; readonly id: number; readonly options: ReloadOptions }
  | { readonly hx: 'revert'; readonly id: number }
  | ChannelEnvelope;

/** What a worker process sends to the primary. */
export type WorkerMessage =
  /**
   * The worker listens to the primary from now (sent before it plans): an IPC message that
   * comes before a listener is lost, so the primary holds its messages until this one.
   */
  | { readonly hx: 'hello' }
  | { readonly hx: 'ready'; readonly addresses: Readonly<Record<string, string>> }
  | { readonly hx: 'start-failed'; readonly error: ErrorBody }
  /** A service ended failed while running and its `onFailed` is `stop`: the whole graph stops. */
  | { readonly hx: 'failed'; readonly service: string; readonly error: ErrorBody }
  /** An uncaught exception: the worker stops and exits 5; the primary replaces it. */
  | { readonly hx: 'fault'; readonly error: ErrorBody }
  | { readonly hx: 'reloaded'; readonly id: number; readonly result: ProcessReloadResult }
  | { readonly hx: 'reload-failed'; readonly id: number; readonly error: ErrorBody }
  | ChannelEnvelope;

/** The environment variable that makes `hendrix up` a worker process. */
export const WORKER_ENV = 'HENDRIX_WORKER';

/** Reads a worker identity from the environment; undefined in the primary or a single process. */
export function workerIdentityOf(env: Readonly<Record<string, string | undefined>>): WorkerIdentity | undefined {
  const text = env[WORKER_ENV];
  if (!text) return undefined;
  const parsed = JSON.parse(text) as WorkerIdentity;
  return parsed;
}
