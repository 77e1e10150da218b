import { createHook } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/**
 * What the contract suite watches and bounds: the resources (handles, sockets, timers) a
 * service leaves open, and every call it makes, each within a time limit that names it.
 */

/** How long a start may take before it counts as hanging. */
export const START_MS = 10_000;
/** How long a probe may take before it counts as hanging. */
export const PROBE_MS = 5_000;
/** How long sockets and handles get to close after a stop. */
export const SETTLE_MS = 2_000;

type Counts = Map<string, number>;

/** Timers are tracked one by one (see TimerWatch); every other resource type is counted. */
const TIMER_TYPES: ReadonlySet<string> = new Set(['Timeout', 'Immediate']);

function countResources(ignore: ReadonlySet<string>): Counts {
  const counts: Counts = new Map();
  for (const type of process.getActiveResourcesInfo()) {
    if (!ignore.has(type) && !TIMER_TYPES.has(type)) counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return counts;
}

/** A timer object as async_hooks hands it over (Timeout and Immediate alike). */
interface TimerResource {
  hasRef?(): boolean;
  _destroyed?: boolean;
}

/** The files of the suite itself: the timers they create are the suite's, not the service's. */
const SUITE_FILES = new Set([fileURLToPath(import.meta.url), import.meta.url]);

/** Registers a file of the suite (its own timers are not counted as the service's). */
export function suiteFile(url: string): void {
  SUITE_FILES.add(url);
  if (url.startsWith('file:')) SUITE_FILES.add(fileURLToPath(url));
}
/** Where vitest's own timers come from (console batching, task updates, RPC timeouts). */
const VITEST_FILES = /[\\/]node_modules[\\/](?:vitest|@vitest|vite|tinypool|birpc|tinyspy|tinyrainbow)[\\/]/;

/** The creator of the suite's own timers (time bounds, polling). */
const SUITE = 'the contract suite';

/** The first frame of `stack` outside Node itself: who created the resource. */
function creatorOf(stack: string | undefined): string {
  const lines = (stack ?? '').split('\n');
  // the hook itself and Node's emitInit come first: start below them
  const below = lines.findLastIndex((line) => line.includes('node:internal/async_hooks'));
  for (const line of lines.slice(below + 1)) {
    const frame = line.trim();
    if (!frame.startsWith('at ') || /\(?node:|\(native\)|<anonymous>/.test(frame)) continue;
    for (const file of SUITE_FILES) if (frame.includes(file)) return SUITE;
    return frame.slice(3);
  }
  return 'node internals';
}

/**
 * The timers created while it is on that are still pending and keep the process alive,
 * leaving out vitest's own: counting `Timeout`s instead would let a timer vitest holds for a
 * moment at the baseline hide a timer the service leaked.
 */
class TimerWatch {
  constructor(private readonly ignore: ReadonlySet<string>) {}

  readonly #timers = new Map<number, { resource: TimerResource; type: string; creator: string }>();
  readonly #hook = createHook({
    init: (id, type, _trigger, resource) => {
      if (!TIMER_TYPES.has(type) || this.ignore.has(type)) return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const creator = creatorOf(new Error().stack);
      Error.stackTraceLimit = limit;
      if (creator !== SUITE && !VITEST_FILES.test(creator)) this.#timers.set(id, { resource: resource as TimerResource, type, creator });
    },
  });

  enable(): this {
    this.#hook.enable();
    return this;
  }

  disable(): void {
    this.#hook.disable();
  }

  /** `Timeout created at start (service.ts:12:3)` for every pending, ref'd timer. */
  pending(): string[] {
    const out: string[] = [];
    for (const [id, t] of this.#timers) {
      if (t.resource._destroyed === true) this.#timers.delete(id);
      else if (t.resource.hasRef?.() !== false) out.push(`${t.type} created at ${t.creator}`);
    }
    return out;
  }
}

/** What was open before an action, to compare with what is open after it. */
export interface ResourceWatch {
  readonly baseline: Counts;
  readonly timers: TimerWatch;
}

/** What `now` holds beyond `baseline`, e.g. ['TCPServerWrap +1']. */
function excess(baseline: Counts, now: Counts): string[] {
  const out: string[] = [];
  for (const [type, n] of now) if (n > (baseline.get(type) ?? 0)) out.push(`${type} +${n - (baseline.get(type) ?? 0)}`);
  return out;
}

/** What is left open now beyond the watch's baseline. */
function leftOpen(watch: ResourceWatch, ignore: ReadonlySet<string>): string[] {
  return [...excess(watch.baseline, countResources(ignore)), ...watch.timers.pending()];
}

/**
 * Starts watching: counts what is open (the least of a few readings, so that a resource open
 * for a moment does not count) and tracks the timers created from now on.
 */
export async function watchResources(ignore: ReadonlySet<string>): Promise<ResourceWatch> {
  const baseline = countResources(ignore);
  for (let i = 0; i < 3; i++) {
    await sleep(10);
    const now = countResources(ignore);
    for (const [type, n] of baseline) baseline.set(type, Math.min(n, now.get(type) ?? 0));
  }
  return { baseline, timers: new TimerWatch(ignore).enable() };
}

/**
 * Resolves once nothing beyond the baseline is open, twice in a row (an open deferred to a
 * later tick shows up in between); throws naming what stayed open.
 */
export async function backToBaseline(watch: ResourceWatch, ignore: ReadonlySet<string>, what: string, ms = SETTLE_MS): Promise<void> {
  const deadline = performance.now() + ms;
  let clean = 0;
  for (;;) {
    await sleep(10);
    const extra = leftOpen(watch, ignore);
    clean = extra.length ? 0 : clean + 1;
    if (clean >= 2) return;
    if (performance.now() > deadline) throw new Error(`${what} left resources open after ${ms} ms: ${extra.join(', ')}`);
  }
}

/** `promise`, or a rejection naming `what` once `ms` pass; its own rejection names `what` too. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const guard = new AbortController();
  const late = sleep(ms, undefined, { signal: guard.signal }).then(
    () => Promise.reject(new Error(`${what} did not settle within ${ms} ms`)),
    () => new Promise<never>(() => undefined),
  );
  try {
    const named = promise.catch((error: unknown) => {
      throw new Error(`${what} rejected: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    });
    return await Promise.race([named, late]);
  } finally {
    guard.abort();
  }
}

/** The rejection of `promise`, or an error when it resolved. */
export async function rejectionOf(promise: Promise<unknown>, what: string): Promise<unknown> {
  const outcome = await promise.then(
    () => ({ resolved: true as const }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  if (outcome.resolved) throw new Error(`${what} resolved; it must reject`);
  return outcome.error;
}

/** A signal that never aborts. */
export const never = (): AbortSignal => new AbortController().signal;
