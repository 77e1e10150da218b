import { HendrixError, isHendrixError } from '../errors/hendrix-error.js';
import { errorToJson } from '../errors/render.js';
import type { Figure, WorkerPlacement } from '../kinds/contract.js';
import type { ServiceState } from '../runtime/orchestrator.js';
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

/** Any error as a HendrixError, for IPC. */
export function toErrorBody(error: unknown): ErrorBody {
  const e = isHendrixError(error) ? error : new HendrixError('HX_ERR_INTERNAL', { message: error instanceof Error ? error.message : String(error), cause: error });
  return errorToJson(e);
}

/** A state change of one service in a worker process, as it crosses IPC (TransitionEvent). */
export interface TransitionBody {
  readonly service: string;
  readonly kind: string;
  readonly from: ServiceState;
  readonly to: ServiceState;
  readonly ms?: number;
  readonly error?: ErrorBody;
  readonly attempt?: number;
  readonly delay?: number;
}

/** One service of a worker process, as it answers the primary's `figures` request. */
export interface ProcessServiceReport {
  readonly state: ServiceState;
  /** Epoch ms (the processes share the wall clock). */
  readonly since: number;
  readonly restarts: number;
  readonly waiting?: string;
  readonly nextRestartAt?: number;
  readonly stoppedByOperator: boolean;
  /** Its address in this process now (it may differ from the ready line's: port 0 bound again after a stop). */
  readonly address?: string;
  readonly lastError?: ErrorBody;
  /** Epoch ms of the last error, for "the newest" across processes (the last transition that carried one). */
  readonly lastErrorAt?: number;
  readonly figures: readonly Figure[];
}

/** What a worker process answers to `figures`: its services and its own resources. */
export interface ProcessReport {
  readonly services: Readonly<Record<string, ProcessServiceReport>>;
  /** Resident memory, bytes. */
  readonly rss: number;
  /** process.cpuUsage(): microseconds. */
  readonly cpu: { readonly user: number; readonly system: number };
  /** The sum of http_requests_total over its services. */
  readonly requests: number;
}

/** An operation on one service the primary forwards to a process (`POST /services/web/restart`). */
export type ServiceOp = 'restart' | 'stop' | 'start';

/** What the primary sends to a worker process. */
export type PrimaryMessage =
  | { readonly hx: 'stop'; readonly retire?: boolean }
  | { readonly hx: 'force' }
  | { readonly hx: 'reload'; readonly id: number; readonly options: ReloadOptions }
  | { readonly hx: 'revert'; readonly id: number }
  /** Report services, figures and resources: answered with `answer` (a ProcessReport). */
  | { readonly hx: 'figures'; readonly id: number }
  /** Restart, stop or start one service: answered with `answer` once done, or `answer-failed`. */
  | { readonly hx: 'op'; readonly id: number; readonly op: ServiceOp; readonly service: string }
  /** A stop is coming (drainDelay): readiness turns off; `on: false` turns it back on. */
  | { readonly hx: 'drain'; readonly on: boolean }
  /** The states of the once-services, for readiness in a worker (sent when one changes). */
  | { readonly hx: 'states'; readonly states: Readonly<Record<string, string>> }
  /** The port a listener on port 0 takes (the answer to the worker's `port`). */
  | { readonly hx: 'port'; readonly id: number; readonly port: number }
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
  /** A service of this process changed state (only the services it runs, not its stand-ins). */
  | { readonly hx: 'transition'; readonly event: TransitionBody }
  /** A starting service of this process said what it waits for. */
  | { readonly hx: 'waiting'; readonly service: string; readonly kind: string; readonly reason: string }
  /**
   * A listener on port 0 is about to listen: which port? The same for every process that asks
   * with the same key (`web/listen/127.0.0.1`), so node:cluster shares one socket per service.
   */
  | { readonly hx: 'port'; readonly id: number; readonly key: string; readonly host: string }
  /** The answer to `figures` or `op`. */
  | { readonly hx: 'answer'; readonly id: number; readonly value: unknown }
  | { readonly hx: 'answer-failed'; readonly id: number; readonly error: ErrorBody }
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
