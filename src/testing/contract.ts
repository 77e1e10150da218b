import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorCodeInfo } from '../errors/codes.js';
import type { HendrixErrorCode } from '../errors/hendrix-error.js';
import { HendrixError, isHendrixError, type PathSegment, type SourceLocation } from '../errors/hendrix-error.js';
import { createSilentLogger } from '../log/logger.js';
import { serviceSchema } from '../manifest/root-schema.js';
import type { CommonServiceConfig, Service, ServiceContext, ServiceKind } from '../kinds/contract.js';
import { backToBaseline, never, PROBE_MS, rejectionOf, SETTLE_MS, START_MS, suiteFile, watchResources, within, type ResourceWatch } from './resources.js';
import { recordLifecycle } from './recorder.js';
import { figureProblems } from './figures.js';

// the timers this file creates (probes' bounds) are the suite's own
suiteFile(import.meta.url);

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
    ...recordLifecycle(),
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

    it('figures(), when the kind reports any, are well formed before start, while running and after stop', async () => {
      const service = await create(await subject.goodConfig());
      if (typeof service.figures !== 'function') return;
      expect(figureProblems(service.figures()), 'figures() before start()').toEqual([]);
      const address = await start(service);
      await probe(service, address);
      expect(figureProblems(service.figures()), 'figures() while running').toEqual([]);
      await stop(service);
      expect(figureProblems(service.figures()), 'figures() after stop()').toEqual([]);
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
