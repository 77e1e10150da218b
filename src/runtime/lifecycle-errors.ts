import { HendrixError, isHendrixError, type SourceLocation } from '../errors/hendrix-error.js';
import { formatDuration } from '../kinds/units.js';
import type { BoundedOutcome } from './lifecycle-run.js';

/** The service an error is about: its name, kind and where it is declared. */
export interface ErrorSubject {
  readonly name: string;
  readonly kind: string;
  readonly location: SourceLocation | undefined;
}

const label = (s: ErrorSubject): string => `${s.name} (${s.kind})`;
const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Fills the service and location of a HendrixError raised by a service, when it has none. */
function fill(error: HendrixError, s: ErrorSubject): HendrixError {
  const mutable = error as unknown as { service: string | undefined; location: SourceLocation | undefined };
  mutable.service ??= s.name;
  mutable.location ??= s.location;
  return error;
}

/** HX_ERR_SERVICE_START for a create() that threw. */
export function createError(error: unknown, s: ErrorSubject): HendrixError {
  if (isHendrixError(error)) return fill(error, s);
  return new HendrixError('HX_ERR_SERVICE_START', {
    message: `${label(s)} could not be created: ${reason(error)}`,
    service: s.name,
    location: s.location,
    cause: error,
  });
}

/** A start rejection as HX_ERR_SERVICE_START, keeping a HendrixError as it is. */
export function startError(error: unknown, s: ErrorSubject): HendrixError {
  if (isHendrixError(error)) return fill(error, s);
  return new HendrixError('HX_ERR_SERVICE_START', {
    message: `${label(s)} failed to start: ${reason(error)}`,
    service: s.name,
    location: s.location,
    cause: error,
  });
}

/** HX_ERR_START_TIMEOUT: the service did not become ready within `startTimeout`. */
export function startTimeoutError(s: ErrorSubject, timeout: number, waiting?: { reason: string; cause: unknown }): HendrixError {
  const cause = waiting?.cause;
  return new HendrixError('HX_ERR_START_TIMEOUT', {
    message: `${label(s)} did not become ready within ${formatDuration(timeout)}${waiting ? `: still ${waiting.reason}${cause === undefined ? '' : ` (last error: ${reason(cause)})`}` : ''}`,
    ...(cause === undefined ? {} : { cause }),
    ...(waiting ? { hint: `the service was ${waiting.reason}; fix what it waits for, or raise \`startTimeout\`` } : {}),
    path: ['services', s.name, 'startTimeout'],
    service: s.name,
    location: s.location,
  });
}

/** HX_ERR_DEPENDENCY_FAILED: not started because `failed` (a direct or transitive dependency) failed. */
export function dependencyFailedError(s: ErrorSubject, failed: string): HendrixError {
  return new HendrixError('HX_ERR_DEPENDENCY_FAILED', {
    message: `${label(s)} was not started: it depends on ${failed}, which failed`,
    service: s.name,
    location: s.location,
  });
}

/** HX_ERR_SERVICE_CRASHED: the service died after it was ready (`error` undefined: it exited). */
export function crashError(error: unknown, s: ErrorSubject): HendrixError {
  if (isHendrixError(error)) return fill(error, s);
  return new HendrixError('HX_ERR_SERVICE_CRASHED', {
    message: error === undefined ? `${label(s)} exited` : `${label(s)} crashed: ${reason(error)}`,
    service: s.name,
    location: s.location,
    ...(error === undefined ? {} : { cause: error }),
  });
}

/** HX_ERR_RESTART_LIMIT: more than `burst` restarts within `window`; `last` is the last death. */
export function restartLimitError(s: ErrorSubject, restarts: number, window: number, last: unknown): HendrixError {
  return new HendrixError('HX_ERR_RESTART_LIMIT', {
    message: `${label(s)} failed: it died again after ${restarts} restart${restarts === 1 ? '' : 's'} within ${formatDuration(window)}${last === undefined ? '' : `; last error: ${reason(last)}`}`,
    path: ['services', s.name, 'restart', 'limit'],
    service: s.name,
    location: s.location,
    ...(last === undefined ? {} : { cause: last }),
  });
}

/** A stop rejection as HX_ERR_SERVICE_STOP, keeping a HendrixError as it is. */
export function stopError(error: unknown, s: ErrorSubject): HendrixError {
  if (isHendrixError(error)) return fill(error, s);
  return new HendrixError('HX_ERR_SERVICE_STOP', {
    message: `${label(s)} failed to stop: ${reason(error)}`,
    service: s.name,
    location: s.location,
    cause: error,
  });
}

/** HX_ERR_STOP_TIMEOUT: the graceful stop outlasted `stopTimeout` and was forced. */
export function stopTimeoutError(s: ErrorSubject, timeout: number, abandoned: boolean, cause: unknown): HendrixError {
  return new HendrixError('HX_ERR_STOP_TIMEOUT', {
    message: `${label(s)} did not stop within ${formatDuration(timeout)} and was forced${abandoned ? '; it did not return even then and was abandoned' : ''}`,
    path: ['services', s.name, 'stopTimeout'],
    service: s.name,
    location: s.location,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** HX_ERR_FORCED for one service: forced to stop, and it did not return even then. */
export function abandonedError(s: ErrorSubject): HendrixError {
  return new HendrixError('HX_ERR_FORCED', {
    message: `${label(s)} was forced to stop and did not return; abandoned`,
    service: s.name,
    location: s.location,
  });
}

/** HX_ERR_PEER: `target` is not a declared dependency of the service, or not ready. */
export function peerError(s: ErrorSubject, target: string, declared: boolean): HendrixError {
  return new HendrixError('HX_ERR_PEER', {
    message: declared
      ? `${s.name} asked for its dependency ${target}, which is not ready`
      : `${s.name} may not reach ${target}: it is not a declared dependency`,
    path: ['services', s.name, 'dependsOn'],
    service: s.name,
    location: s.location,
    ...(declared ? {} : { hint: `add ${target} to services.${s.name}.dependsOn, or reference it from the config` }),
  });
}

/** Aggregates errors under one code: HX_ERR_START_FAILED, HX_ERR_STOP_FAILED or HX_ERR_FORCED. */
export function aggregateError(
  code: 'HX_ERR_START_FAILED' | 'HX_ERR_STOP_FAILED' | 'HX_ERR_FORCED',
  errors: readonly HendrixError[],
  message?: string,
): HendrixError {
  const what = { HX_ERR_START_FAILED: 'the graph failed to start', HX_ERR_STOP_FAILED: 'the graph did not stop cleanly', HX_ERR_FORCED: 'the stop was forced' }[code];
  const count = errors.length ? ` (${errors.length} error${errors.length === 1 ? '' : 's'})` : '';
  return new HendrixError(code, { message: message ?? `${what}${count}`, errors });
}

/** HX_ERR_RELOAD_TIMEOUT: an in-place reload or a rebind outlasted the service's `startTimeout`. */
export function reloadTimeoutError(s: ErrorSubject, what: 'reload' | 'rebind', timeout: number): HendrixError {
  return new HendrixError('HX_ERR_RELOAD_TIMEOUT', {
    message: `${label(s)} did not ${what === 'reload' ? 'apply the change' : 'rebind to its replaced dependency'} within ${formatDuration(timeout)}`,
    path: ['services', s.name, 'startTimeout'],
    service: s.name,
    location: s.location,
  });
}

/** A rejection of reload() or rebind() as HX_ERR_SERVICE_RELOAD, keeping a HendrixError as it is. */
export function serviceReloadError(error: unknown, s: ErrorSubject, what: 'reload' | 'rebind'): HendrixError {
  if (isHendrixError(error)) return fill(error, s);
  return new HendrixError('HX_ERR_SERVICE_RELOAD', {
    message: `${label(s)} could not ${what === 'reload' ? 'apply the change in place' : 'rebind to its replaced dependency'}: ${reason(error)}`,
    service: s.name,
    location: s.location,
    cause: error,
  });
}

/** What a bounded stop() call's outcome says went wrong, if anything: a timeout, its error, or abandoned. */
export function stopOutcomeError(s: ErrorSubject, timeout: number, outcome: BoundedOutcome): HendrixError | undefined {
  if (outcome.timedOut) return stopTimeoutError(s, timeout, outcome.status === 'abandoned', outcome.error);
  if (outcome.status === 'error') return stopError(outcome.error, s);
  if (outcome.status === 'abandoned') return abandonedError(s);
  return undefined;
}
