import { pino, type Logger } from 'pino';
import { vi } from 'vitest';
import { z } from 'zod';
import type { ServiceConfig } from '../../src/manifest/types.js';
import type { Clock } from '../../src/runtime/clock.js';
import type { RestartConfig, Service, ServiceContext, ServiceKind } from '../../src/kinds/contract.js';
import { defineServiceKind } from '../../src/kinds/define-service-kind.js';
import { createOrchestrator, type Orchestrator, type ServicePlan, type TransitionEvent } from '../../src/runtime/orchestrator.js';
import { makeGraph } from './make-graph.js';

/** A promise with its resolve and reject exposed. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Builds a {@link Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A promise that rejects with the signal's reason once it aborts. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** What a probe does on start and stop; `probe.index` tells restarts apart (0 = first instance). */
export interface ProbeScript {
  start?(signal: AbortSignal, probe: Probe): Promise<void> | void;
  stop?(signal: AbortSignal, probe: Probe): Promise<void> | void;
  handle?: unknown;
  address?: string;
  /** Makes create() throw. */
  createError?: unknown;
}

/** The config fields a test may override. */
export interface ConfigOverrides {
  startTimeout?: number;
  stopTimeout?: number;
  restart?: { policy?: RestartConfig['policy']; backoff?: Partial<RestartConfig['backoff']>; limit?: Partial<RestartConfig['limit']> };
}

/** A full, validated-looking config: 1 s timeouts, on-failure, backoff 100 ms ×2 without jitter. */
export function serviceConfig(o: ConfigOverrides = {}): ServiceConfig {
  return {
    kind: 'probe',
    dependsOn: [],
    startTimeout: o.startTimeout ?? 1000,
    stopTimeout: o.stopTimeout ?? 1000,
    onFailed: 'stop',
    restart: {
      policy: o.restart?.policy ?? 'on-failure',
      backoff: { initial: 100, factor: 2, max: 30_000, jitter: 0, ...o.restart?.backoff },
      limit: { burst: 5, window: 60_000, ...o.restart?.limit },
    },
  };
}

/** A test service that records what happens to it and does what its script says. */
export class Probe implements Service {
  constructor(
    readonly ctx: ServiceContext<ServiceConfig>,
    readonly index: number,
    readonly h: Harness,
  ) {}
  startSignal: AbortSignal | undefined;
  stopSignal: AbortSignal | undefined;
  get name(): string {
    return this.ctx.name;
  }
  get script(): ProbeScript {
    return this.h.scripts[this.ctx.name] ?? {};
  }
  async start(signal: AbortSignal): Promise<void> {
    this.startSignal = signal;
    this.h.record(`start ${this.name}`);
    await this.script.start?.(signal, this);
    this.h.record(`started ${this.name}`);
  }
  async stop(signal: AbortSignal): Promise<void> {
    this.stopSignal = signal;
    this.h.record(`stop ${this.name}`);
    await this.script.stop?.(signal, this);
    this.h.record(`stopped ${this.name}`);
  }
  handle(): unknown {
    return this.script.handle;
  }
  address(): string | undefined {
    return this.script.address;
  }
}

/** Everything a test needs around one orchestrator of probes. */
export interface Harness {
  orch: Orchestrator;
  scripts: Record<string, ProbeScript>;
  /** `start a`, `started a`, `stop a`, `stopped a`, in order. */
  events: string[];
  /** The same events with the clock time they happened at. */
  timed: { at: number; event: string }[];
  transitions: TransitionEvent[];
  instances: Record<string, Probe[]>;
  /** The log lines written, parsed. */
  logs: Record<string, unknown>[];
  plans: ServicePlan[];
  record(event: string): void;
  /** The latest instance of a service. */
  probe(name: string): Probe;
}

/** Options of {@link makeHarness}. */
export interface HarnessOptions {
  graph: Record<string, string[]>;
  scripts?: Record<string, ProbeScript>;
  configs?: Record<string, ConfigOverrides>;
  /** Overrides for every service (per-service `configs` win). */
  config?: ConfigOverrides;
  only?: string[];
  clock?: Clock;
  abortGrace?: number;
  /** The rollback grace (default 0 here: in-flight starts are cancelled at once). */
  rollbackGrace?: number;
  /** The states of services run by another process (OrchestratorOptions.remoteStates). */
  remoteStates?: () => Readonly<Record<string, string>>;
  locate?: (path: readonly (string | number)[]) => { file: string; line: number; column: number } | undefined;
}

/** Builds an orchestrator over probe services. */
export function makeHarness(o: HarnessOptions): Harness {
  const logs: Record<string, unknown>[] = [];
  const logger: Logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const h = {
    scripts: o.scripts ?? {},
    events: [] as string[],
    timed: [] as { at: number; event: string }[],
    transitions: [] as TransitionEvent[],
    instances: {} as Record<string, Probe[]>,
    logs,
    record(event: string) {
      h.events.push(event);
      h.timed.push({ at: Date.now(), event });
    },
    probe(name: string): Probe {
      const list = h.instances[name];
      const last = list?.[list.length - 1];
      if (!last) throw new Error(`no instance of ${name}`);
      return last;
    },
  } as Harness;
  // cast: a kind with its own schema type is not assignable to the default ServiceKind (contract.ts)
  const kind = defineServiceKind({
    kind: 'probe',
    schema: z.strictObject({}),
    create(ctx) {
      const script = h.scripts[ctx.name];
      if (script?.createError !== undefined) throw script.createError;
      const list = (h.instances[ctx.name] ??= []);
      const probe = new Probe(ctx as ServiceContext<ServiceConfig>, list.length, h);
      list.push(probe);
      return probe;
    },
  }) as unknown as ServiceKind;
  h.plans = Object.keys(o.graph).map((name, i) => ({
    name,
    kind,
    config: { ...serviceConfig({ ...o.config, ...o.configs?.[name] }), dependsOn: o.graph[name] ?? [] },
    location: { file: 'hendrix.yaml', line: 3 + i * 2, column: 3 },
  }));
  h.orch = createOrchestrator({
    services: h.plans,
    graph: makeGraph(o.graph),
    logger,
    baseDir: '/srv/app',
    ...(o.only ? { only: o.only } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.abortGrace !== undefined ? { abortGrace: o.abortGrace } : {}),
    rollbackGrace: o.rollbackGrace ?? 0,
    ...(o.remoteStates ? { remoteStates: o.remoteStates } : {}),
    ...(o.locate ? { locate: o.locate } : {}),
  });
  h.orch.on('transition', (e) => h.transitions.push(e));
  return h;
}

/** Lets pending promise chains run (also under fake timers, without moving time). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    if (vi.isFakeTimers()) await vi.advanceTimersByTimeAsync(0);
    else await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The index of an event, failing loudly when it did not happen. */
export function at(events: readonly string[], event: string): number {
  const i = events.indexOf(event);
  if (i < 0) throw new Error(`event "${event}" did not happen; events: ${events.join(', ')}`);
  return i;
}
