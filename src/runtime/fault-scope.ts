import { createHook, executionAsyncId } from 'node:async_hooks';

/**
 * Whose code runs now: the async context hendrix keeps so that an uncaught exception or an
 * unhandled rejection can be blamed on the service that raised it.
 *
 * A service instance is tagged while the orchestrator calls into it (create, start), and every
 * async resource created inside — a timer, an interval, a socket, a server, a promise — keeps
 * the tag for life, so its callbacks carry it long after start() returned. Node 20's
 * AsyncLocalStorage would carry the tag further (into every resource those callbacks create),
 * but it keeps async hooks on for the whole process, and that costs ~10% of CPU per request on a
 * hello-world server (measured: 12.2–13.5 µs vs 10.8–11.4 µs per request). Here the hook is on
 * only while a create or start is in flight: a running graph pays nothing. What the tag misses
 * (work a request or a later callback started) the stack usually names (fault-stack.ts).
 *
 * The state lives on `globalThis` under a registered symbol, like crosstown's context: two
 * copies of the package (the bundle and the sources in tests) still share one set of tags.
 */

/** The tag of one service instance, as the orchestrator running it made it. */
export interface FaultTag {
  /** The service's instance name. */
  readonly service: string;
  /** Which instance of it (a restart makes a new one): a fault of a replaced instance is not the new one's. */
  readonly generation: number;
  /** The orchestrator that runs it (a process may run several graphs). */
  readonly owner: object;
}

/** Reads a tag from a context of its own (the http kind's request context). */
export type FaultReader = () => unknown;

interface FaultScopeState {
  /** Tags of the async resources created in a tagged context, by async id. */
  readonly tags: Map<number, FaultTag>;
  /** The tag of the code running synchronously inside runAsService(). */
  current: FaultTag | undefined;
  /** How many create/start calls are in flight: the hook is on while this is above 0. */
  open: number;
  readonly readers: Set<FaultReader>;
  readonly hook: { enable(): unknown; disable(): unknown };
}

const KEY = Symbol.for('hendrix.faults.scope');
type GlobalWithScope = typeof globalThis & { [KEY]?: FaultScopeState };

const state: FaultScopeState = ((globalThis as GlobalWithScope)[KEY] ??= createState());

function createState(): FaultScopeState {
  const tags = new Map<number, FaultTag>();
  // an entry lives as long as its resource: a timer cleared and collected leaves no trace
  const forget = new FinalizationRegistry<number>((asyncId) => tags.delete(asyncId));
  const self: FaultScopeState = {
    tags,
    current: undefined,
    open: 0,
    readers: new Set(),
    hook: createHook({
      init(asyncId, _type, _trigger, resource) {
        const tag = self.current ?? tags.get(executionAsyncId());
        if (tag === undefined) return;
        tags.set(asyncId, tag);
        forget.register(resource, asyncId);
      },
    }),
  };
  return self;
}

/** True when `value` looks like a {@link FaultTag} (readers return what their context holds). */
export function isFaultTag(value: unknown): value is FaultTag {
  const v = value as Partial<FaultTag> | null | undefined;
  return typeof v === 'object' && v !== null && typeof v.service === 'string' && typeof v.generation === 'number' && typeof v.owner === 'object';
}

/**
 * Runs `fn` as the code of `tag`'s service: what it creates synchronously is tagged (and, while
 * a window is open, what those create in turn). Returns what `fn` returns.
 */
export function runAsService<T>(tag: FaultTag, fn: () => T): T {
  const previous = state.current;
  state.current = tag;
  try {
    return fn();
  } finally {
    state.current = previous;
  }
}

/**
 * Opens a window in which new async resources inherit the tag of the context that creates
 * them (the hook is on); returns the function that closes it. The orchestrator opens one per
 * create or start call in flight.
 */
export function openFaultWindow(): () => void {
  if (state.open++ === 0) state.hook.enable();
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    if (--state.open === 0) state.hook.disable();
  };
}

/**
 * The tag of the code running now: the synchronous one, the one the current async resource
 * was created with, or what a registered reader finds (a request's service); undefined when
 * none says.
 */
export function currentFaultTag(): FaultTag | undefined {
  const tag = state.current ?? state.tags.get(executionAsyncId());
  if (tag !== undefined) return tag;
  for (const reader of state.readers) {
    try {
      const found = reader();
      if (isFaultTag(found)) return found;
    } catch {
      // a reader that fails knows nothing
    }
  }
  return undefined;
}

/**
 * Registers a reader of another async context that knows whose code runs in it (the http
 * kind's request context, when crosstown turned it on); registering the same function again
 * does nothing. Returns the function that removes it.
 */
export function addFaultReader(reader: FaultReader): () => void {
  state.readers.add(reader);
  return () => void state.readers.delete(reader);
}
