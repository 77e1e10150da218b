import { createHook } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorCodeInfo } from '../errors/codes.js';
import type { HendrixErrorCode } from '../errors/hendrix-error.js';
import { HendrixError, isHendrixError, type PathSegment, type SourceLocation } from '../errors/hendrix-error.js';
import { createSilentLogger } from '../log/logger.js';
import { serviceSchema } from '../manifest/root-schema.js';
import type { CommonServiceConfig, Service, ServiceContext, ServiceKind } from '../kinds/contract.js';

// The shared contract suite of DESIGN.md section 6: what every kind's service must do,
// whatever it serves. Over 400 lines on purpose: the suite, the context it builds and the
// resource watch its leak checks rely on serve only each other, and are read together.

/** The handles of running peers, by service name: what `ctx.peer(name)` returns. */
export type ContractPeers = Readonly<Record<string, unknown>>;

/** The config a kind's service receives: its own fields plus the common ones, defaults applied. */
export type ContractConfig<Schema extends z.ZodObject> = z.output<Schema> & CommonServiceConfig;

/** A ServiceContext for contract tests, with what the service reported back. */
export interface ContractContext<Config = unknown> extends ServiceContext<Config> {
  /** Every ctx.crashed() call, in order. */
  readonly crashes: unknown[];
  /** What the service said it waits for (ctx.waiting), in order. */
  readonly waits: { reason: string; cause: unknown }[];
}

/** Options of createContractContext(). */
export interface ContractContextOptions {
  /** The instance name; default: the kind's name. */
  name?: string;
  /** The manifest folder relative paths resolve against; default: the working directory. */
  baseDir?: string;
  /** What ctx.peer(name) returns; any other name throws HX_ERR_PEER as the orchestrator does. */
  peers?: ContractPeers;
  /** Default: a silent logger. */
  log?: Logger;
}

/**
 * A ServiceContext as the orchestrator builds it: `partial` goes through the manifest's own
 * validation (the kind's schema plus kind and the common fields, strict), so defaults apply as
 * in a manifest and unknown keys are errors. The config is frozen; crashed() records.
 */
export function createContractContext<Schema extends z.ZodObject>(
  kind: ServiceKind<Schema>,
  partial: Record<string, unknown>,
  options: ContractContextOptions = {},
): ContractContext<ContractConfig<Schema>> {
  const name = options.name ?? kind.kind;
  // cast: a kind with its own schema type is not assignable to the general ServiceKind (contract.ts)
  const parsed = serviceSchema(kind as unknown as ServiceKind).safeParse({ kind: kind.kind, ...partial });
  if (!parsed.success) throw new Error(`contract context: invalid ${kind.kind} config:\n${z.prettifyError(parsed.error)}`);
  const config = Object.freeze(parsed.data) as ContractConfig<Schema>;
  const peers = options.peers ?? {};
  const location: SourceLocation = { file: 'hendrix.yaml', line: 3, column: 3 };
  const crashes: unknown[] = [];
  const waits: { reason: string; cause: unknown }[] = [];
  return Object.freeze({
    name,
    kind: kind.kind,
    config,
    log: options.log ?? createSilentLogger(),
    baseDir: options.baseDir ?? process.cwd(),
    location,
    locate: (path: readonly PathSegment[]): SourceLocation => ({ file: 'hendrix.yaml', line: 4 + path.length, column: 5 }),
    peer<T = unknown>(target: string): T {
      if (!Object.hasOwn(peers, target)) {
        throw new HendrixError('HX_ERR_PEER', {
          message: `${name} may not reach ${target}: it is not a declared dependency`,
          path: ['services', name, 'dependsOn'],
          service: name,
          location,
        });
      }
      return peers[target] as T;
    },
    crashed(error?: unknown): void {
      crashes.push(error);
    },
    waiting(reason: string, cause?: unknown) {
      waits.push({ reason, cause });
    },
    crashes,
    waits,
  });
}

/** Closes a client connection openClient() opened. */
export type CloseClient = () => void | Promise<void>;

/**
 * A kind under the contract suite: how to build, start and reach one of its services. `S` is
 * the service type the probes receive (the kind's `create()` result, cast).
 */
export interface ContractSubject<S extends Service = Service, Schema extends z.ZodObject = z.ZodObject> {
  /** The kind descriptor; every service is built through `kind.create(ctx)`. */
  readonly kind: ServiceKind<Schema>;
  /** The instance name; default: the kind's name. */
  readonly name?: string;
  /** The manifest folder of the contexts (where app modules and certificates resolve). */
  readonly baseDir?: string;
  /** Runs once before the suite (e.g. starts the peers); what it returns becomes `peers`. */
  setup?(): ContractPeers | void | Promise<ContractPeers | void>;
  /** Runs once after the suite: stops the peers, frees what failingConfig() held. */
  teardown?(): void | Promise<void>;
  /** Builds the context; default: createContractContext(kind, config, { name, baseDir, peers }). */
  makeContext?(config: Record<string, unknown>, options: { name: string; peers: ContractPeers }): ServiceContext<ContractConfig<Schema>>;
  /** A partial config that starts (listen on 127.0.0.1:0 or the like: never fixed ports). */
  goodConfig(): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** A partial config that validates but fails to start (e.g. a port already taken); may be called more than once. */
  failingConfig(): Promise<Record<string, unknown>>;
  /** The code the failed start must have; default: any declared code (core or the kind's). */
  readonly failingCode?: HendrixErrorCode;
  /**
   * Resolves when the service answers, rejects otherwise. `address` is what `address()`
   * returned right after the last successful start: after a stop the probe must still try it,
   * so that a refused connection (not a missing address) makes it fail.
   */
  probe(service: S, address: string | undefined): Promise<void>;
  /** Opens a client connection the service must cut when forced (a request held mid-response). */
  openClient?(service: S, address: string | undefined): Promise<CloseClient>;
  /** Resource types (process.getActiveResourcesInfo()) the leak checks ignore. */
  readonly ignoreResources?: readonly string[];
  /** How long a stop with an aborted signal may take; default 1000 ms. */
  readonly forceWithinMs?: number;
}

/** How long a start may take before it counts as hanging. */
const START_MS = 10_000;
/** How long a probe may take before it counts as hanging. */
const PROBE_MS = 5_000;
/** How long sockets and handles get to close after a stop. */
const SETTLE_MS = 2_000;

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

const THIS_FILE = fileURLToPath(import.meta.url);
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
    if (frame.includes(THIS_FILE) || frame.includes(import.meta.url)) return SUITE;
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
interface ResourceWatch {
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
async function watchResources(ignore: ReadonlySet<string>): Promise<ResourceWatch> {
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
async function backToBaseline(watch: ResourceWatch, ignore: ReadonlySet<string>, what: string, ms = SETTLE_MS): Promise<void> {
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
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
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
async function rejectionOf(promise: Promise<unknown>, what: string): Promise<unknown> {
  const outcome = await promise.then(
    () => ({ resolved: true as const }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  if (outcome.resolved) throw new Error(`${what} resolved; it must reject`);
  return outcome.error;
}

const never = (): AbortSignal => new AbortController().signal;

/**
 * Declares `<kind> service contract`: the cases every kind passes (DESIGN.md sections 3 and 6):
 * create() opens nothing; start() resolves only when ready; stop is
 * idempotent, safe before start and after a failed start; failures are HendrixErrors; no leaked
 * handles; start again after stop; a stop with an aborted signal forces promptly.
 */
export function describeServiceContract<S extends Service = Service, Schema extends z.ZodObject = z.ZodObject>(
  subject: ContractSubject<S, Schema>,
): void {
  const kind = subject.kind;
  const name = subject.name ?? kind.kind;
  const ignore = new Set(subject.ignoreResources ?? []);
  const forceMs = subject.forceWithinMs ?? 1_000;

  describe(`${kind.kind} service contract`, () => {
    let peers: ContractPeers = {};
    const contexts: ServiceContext[] = [];
    const live = new Set<Service>();
    const clients: CloseClient[] = [];
    const watches: ResourceWatch[] = [];

    async function watch(): Promise<ResourceWatch> {
      const w = await watchResources(ignore);
      watches.push(w);
      return w;
    }

    beforeAll(async () => {
      peers = (await subject.setup?.()) ?? {};
    });
    afterAll(async () => {
      await subject.teardown?.();
    });
    afterEach(async () => {
      for (const w of watches.splice(0)) w.timers.disable();
      for (const close of clients.splice(0)) await close();
      const services = [...live];
      live.clear();
      await Promise.allSettled(services.map((s) => s.stop(AbortSignal.abort(new Error('contract test cleanup')))));
      const reported = contexts.splice(0).flatMap((ctx) => ('crashes' in ctx ? (ctx as ContractContext).crashes : []));
      expect(reported, 'ctx.crashed() must not be called by start or stop').toEqual([]);
    });

    async function create(config: Record<string, unknown>): Promise<S> {
      const ctx = subject.makeContext
        ? subject.makeContext(config, { name, peers })
        : createContractContext(kind, config, { name, peers, ...(subject.baseDir === undefined ? {} : { baseDir: subject.baseDir }) });
      contexts.push(ctx as ServiceContext);
      const service = (await kind.create(ctx)) as S;
      live.add(service);
      return service;
    }

    /** Starts `service`; returns its address right after start. */
    async function start(service: S, what = 'start()'): Promise<string | undefined> {
      expect(await within(service.start(never()), START_MS, what)).toBeUndefined();
      return service.address?.();
    }

    const stop = (service: S, what = 'stop()', signal = never()): Promise<void> => within(service.stop(signal), SETTLE_MS, what);
    const probe = (service: S, address: string | undefined, what = 'the probe'): Promise<void> =>
      within(subject.probe(service, address), PROBE_MS, what);

    it('create() through the kind opens nothing: no socket, timer or file', async () => {
      const opened = await watch();
      const service = await create(await subject.goodConfig());
      expect(typeof service.start).toBe('function');
      expect(typeof service.stop).toBe('function');
      await backToBaseline(opened, ignore, 'create()', 250);
    });

    it('start() resolves only when ready: the probe passes at once', async () => {
      const service = await create(await subject.goodConfig());
      const address = await start(service);
      await probe(service, address, 'the probe right after start() resolved');
      await stop(service);
    });

    it('stop() twice, and concurrently, resolves; afterwards the probe fails', async () => {
      const service = await create(await subject.goodConfig());
      const address = await start(service);
      await probe(service, address);
      await within(Promise.all([service.stop(never()), service.stop(never())]), SETTLE_MS, 'two concurrent stop()');
      await stop(service, 'a third stop()');
      await rejectionOf(probe(service, address), 'the probe after stop()');
    });

    it('stop() before any start() resolves', async () => {
      const service = await create(await subject.goodConfig());
      await stop(service, 'stop() before start()');
      await stop(service, 'a second stop() before start()');
    });

    it('a failed start rejects with a HendrixError about this service; stop() then resolves and nothing stays open', async () => {
      const config = await subject.failingConfig();
      const opened = await watch();
      const service = await create(config);
      const error = await rejectionOf(within(service.start(never()), START_MS, 'start() with failingConfig()').catch((e: Error) => {
        throw e.cause ?? e; // the service's own error, not the time bound's wrapper
      }), 'start() with failingConfig()');
      expect(isHendrixError(error), `expected a HendrixError, got ${String(error)}`).toBe(true);
      const hx = error as HendrixError;
      expect(errorCodeInfo(hx.code), `${hx.code} is declared neither by the core nor by the kind`).toBeDefined();
      if (subject.failingCode !== undefined) expect(hx.code).toBe(subject.failingCode);
      expect(hx.path?.slice(0, 2), 'the error path starts with services.<name>').toEqual(['services', name]);
      if (hx.service !== undefined) expect(hx.service).toBe(name);
      expect(hx.message).not.toBe('');
      expect(hx.message, 'the message carries no stack trace').not.toMatch(/\n\s*at\s|\((?:file:|node:|\/)[^)]*:\d+:\d+\)/);
      await stop(service, 'stop() after a failed start');
      await stop(service, 'a second stop() after a failed start');
      await backToBaseline(opened, ignore, 'a failed start and its stop()');
    });

    it('start() then stop() leaks no handle: the active resources return to the baseline', async () => {
      const opened = await watch();
      const service = await create(await subject.goodConfig());
      const address = await start(service);
      await probe(service, address);
      await stop(service);
      await backToBaseline(opened, ignore, 'start() and stop()');
    });

    it('start() after stop() works again on the same instance, and leaks nothing', async () => {
      const opened = await watch();
      const service = await create(await subject.goodConfig());
      await probe(service, await start(service));
      await stop(service);
      await probe(service, await start(service, 'start() after stop()'), 'the probe after the second start()');
      await stop(service, 'the second stop()');
      await backToBaseline(opened, ignore, 'start(), stop(), start() and stop()');
    });

    it(`stop() with an aborted signal forces promptly${subject.openClient ? ', a client connection open' : ''}`, async () => {
      const opened = await watch();
      const service = await create(await subject.goodConfig());
      const address = await start(service);
      if (subject.openClient) clients.push(await within(subject.openClient(service, address), PROBE_MS, 'openClient()'));
      await within(service.stop(AbortSignal.abort(new Error('forced by the contract test'))), forceMs, 'stop() with an aborted signal');
      await rejectionOf(probe(service, address), 'the probe after a forced stop()');
      for (const close of clients.splice(0)) await close();
      await backToBaseline(opened, ignore, 'a forced stop()');
    });
  });
}
