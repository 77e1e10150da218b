/**
 * The public API of Hendrix: what `import ... from 'hendrix'` gives an app or a custom kind.
 * The CLI is a thin layer over the same functions. This file is an edge of the composition:
 * with src/cli/main.ts, the only place in src/ that knows the built-in kinds.
 */
import { builtinKinds } from '../services/index.js';
import type { ServiceKind } from './kinds/contract.js';
import { createKindRegistry, type KindRegistry, type KindSource } from './kinds/registry.js';
import { createPlan, type Plan, type PlanOptions } from './runtime/plan.js';
import { upWith, type Hendrix, type UpOptions } from './runtime/up.js';
/*
 * The composition of the package entry: the core knows no kind, so `plan()` and `up()` here
 * give it the built-in kinds (and any extra kinds the caller names) — the same edge the CLI is.
 */

/** Kinds to add by name to the built-in ones, e.g. `{ queue: queueKind }`. */
export type ExtraKinds = Readonly<Record<string, ServiceKind>> | Iterable<readonly [string, ServiceKind]>;

let builtinRegistry: KindRegistry | undefined;

function registryWith(extra: ExtraKinds | undefined): KindRegistry {
  if (!extra) return (builtinRegistry ??= createKindRegistry(builtinKinds));
  const entries = Symbol.iterator in extra ? [...(extra as Iterable<readonly [string, ServiceKind]>)] : Object.entries(extra);
  return createKindRegistry([...builtinKinds, ...entries] as [string, KindSource][]);
}

/** Options of the package's `plan()`: PlanOptions with the built-in kinds by default. */
export type PlanCallOptions = Omit<PlanOptions, 'kinds'> & { overlays?: string[]; kinds?: ExtraKinds };

/** Options of the package's `up()`: UpOptions with the built-in kinds by default. */
export type UpCallOptions = Omit<UpOptions, 'kinds'> & { kinds?: ExtraKinds };

/**
 * Builds the plan of a manifest (default `hendrix.yaml`, later files overlay earlier ones)
 * without starting anything; rejects with every problem `up` would hit (HX_ERR_MANIFEST, 78).
 */
export function plan(files: string | readonly string[] = 'hendrix.yaml', options: PlanCallOptions = {}): Promise<Plan> {
  const { overlays = [], kinds, ...rest } = options;
  const list = [...(typeof files === 'string' ? [files] : files), ...overlays];
  return createPlan(list, { ...rest, kinds: registryWith(kinds) });
}

/** Plans a manifest and starts its graph; resolves once every service is ready. */
export function up(files: string | readonly string[] = 'hendrix.yaml', options: UpCallOptions = {}): Promise<Hendrix> {
  const { kinds, ...rest } = options;
  return upWith(files, { ...rest, kinds: registryWith(kinds) });
}

/** The kind registry with the built-in kinds: what the CLI composes. */
export function builtinKindRegistry(): KindRegistry {
  return registryWith(undefined);
}

// --- writing a kind: the same kit the built-in kinds use
export { defineServiceKind, isServiceKind } from './kinds/define-service-kind.js';
export { createKindRegistry, type KindRegistry, type KindSource } from './kinds/registry.js';
export type {
  Service,
  ServiceContext,
  ServiceKind,
  ServiceKindDefinition,
  Reference,
  ReferenceField,
  ReferenceLister,
  ProvisionContext,
  ListenSite,
  PlanFileRole,
  CommonServiceConfig,
  RestartConfig,
  WorkerPlacement,
  ClusterLink,
  ClusterChannel,
  Coordinator,
  CoordinatorContext,
  KindWorkers,
  Figure,
  CounterFigure,
  GaugeFigure,
  HistogramFigure,
  GraphView,
} from './kinds/contract.js';
export { commonServiceFields, restartSchema } from './kinds/common-schema.js';
export { duration, size, int, number, bool, listen, serviceNames, parseListen, formatListen, isLoopback, type ListenAddress } from './kinds/fields.js';
export { parseDuration, parseSize, formatDuration } from './kinds/units.js';
export { SERVICE_NAME, serviceSchema } from './manifest/root-schema.js';
export { listenOn, boundAddress, resolveListen, PRIVILEGED_HINT, type ListenContext } from './net/listen.js';
export { LAST_CALL_MS, DRAIN_POLL_MS, idleSocketsOf, closableNow, closeCleanly } from './net/drain-close.js';
export { checkTopic, checkPattern, matches, covers, allowedBy, PATTERN_HELP, MAX_TOPIC_LENGTH } from './net/topics.js';
export { systemClock, type Clock, type TimerHandle } from './runtime/clock.js';
export { addFaultReader, currentFaultTag, runAsService, isFaultTag, type FaultTag, type FaultReader } from './runtime/fault-scope.js';
export type { Fault } from './runtime/fault-guard.js';
export { backoffDelay, shouldRestart } from './runtime/supervisor.js';
export { z } from 'zod';
// --- errors
export { HendrixError, isHendrixError, formatPath, type HendrixErrorCode, type SourceLocation, type PathSegment } from './errors/hendrix-error.js';
export { ERROR_CODES, EXIT, defineErrorCodes, errorCodeInfo, type ErrorCode, type ErrorCodeInfo, type ErrorCodeTable } from './errors/codes.js';
export { renderError, flattenErrors } from './errors/render.js';
// --- plans and running graphs
export { createPlan, type Plan, type PlannedService, type PlanOptions, type PlanFile } from './runtime/plan.js';
export { diffPlans, formatPlanDiff, type PlanDiff, type PlanStep, type ServiceChange, type ServiceEntry, type RemovedService, type FieldChange, type FileChange, type ChangeReason } from './runtime/plan-diff.js';
export { upWith, type Hendrix, type UpOptions } from './runtime/up.js';
export type { Graph, GraphEdge } from './runtime/graph-types.js';
export type { Orchestrator, ServiceState, TransitionEvent } from './runtime/orchestrator.js';
export type { ReloadOptions, ReloadResult } from './runtime/reload.js';
export type { ReloadReport, ReloadStep } from './runtime/orchestrator-reload.js';
// --- crosstown: work after the response (and what a kind hosting it needs)
export { crosstown, type Crosstown, type CrosstownOptions, type CrosstownTaskOptions } from './crosstown/api.js';
export { CrosstownRuntime, emptyStats, type CrosstownStats } from './crosstown/runtime.js';
export { crosstownSchema } from './crosstown/config.js';
export { crosstownShared, requestContext, type CrosstownHost } from './crosstown/context.js';
