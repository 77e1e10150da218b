import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { at, deferred, flush, makeHarness, untilAborted, type ConfigOverrides, type Harness } from '../../test/helpers/probe-kind.js';
import { systemClock } from './clock.js';
import type { RestartConfig } from '../kinds/contract.js';
import { backoffDelay, createSupervisor, shouldRestart } from './supervisor.js';

const restart = (o: Partial<RestartConfig> & { backoff?: Partial<RestartConfig['backoff']>; limit?: Partial<RestartConfig['limit']> } = {}): RestartConfig => ({
  policy: o.policy ?? 'on-failure',
  backoff: { initial: 100, factor: 2, max: 30_000, jitter: 0, ...o.backoff },
  limit: { burst: 5, window: 60_000, ...o.limit },
});

describe('backoffDelay', () => {
  const backoff = restart().backoff;

  it('doubles from initial and caps at max', () => {
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay(backoff, n, () => 0.5))).toEqual([100, 200, 400, 800, 1600]);
    expect(backoffDelay({ ...backoff, max: 500 }, 3, () => 0.5)).toBe(500);
    expect(backoffDelay({ ...backoff, max: 500 }, 5000, () => 0.5)).toBe(500);
  });

  it('spreads by ±jitter around the capped delay, deterministically from random()', () => {
    const jittery = { ...backoff, jitter: 0.1 };
    expect([0, 1, 2, 3].map((n) => backoffDelay(jittery, n, () => 0.75))).toEqual([105, 210, 420, 840]);
    expect(backoffDelay(jittery, 0, () => 0)).toBe(90);
    expect(backoffDelay(jittery, 0, () => 0.5)).toBe(100);
    expect(backoffDelay({ ...jittery, max: 1000 }, 10, () => 0.75)).toBe(1050);
    expect(backoffDelay({ ...backoff, jitter: 1 }, 0, () => 0)).toBe(0);
  });
});

describe('createSupervisor', () => {
  it('applies the policy: no, on-failure, always × clean exit, failure', () => {
    expect([shouldRestart('no', true), shouldRestart('no', false)]).toEqual([false, false]);
    expect([shouldRestart('on-failure', true), shouldRestart('on-failure', false)]).toEqual([true, false]);
    expect([shouldRestart('always', true), shouldRestart('always', false)]).toEqual([true, true]);
    const input = { now: 0, upSince: 0 };
    expect(createSupervisor(restart({ policy: 'no' }), Math.random).onCrash({ ...input, failed: true })).toEqual({ action: 'fail' });
    expect(createSupervisor(restart({ policy: 'no' }), Math.random).onCrash({ ...input, failed: false })).toEqual({ action: 'stop' });
    expect(createSupervisor(restart({ policy: 'on-failure' }), Math.random).onCrash({ ...input, failed: false })).toEqual({ action: 'stop' });
    expect(createSupervisor(restart({ policy: 'on-failure' }), Math.random).onCrash({ ...input, failed: true })).toEqual({ action: 'restart', attempt: 1, delay: 100 });
    expect(createSupervisor(restart({ policy: 'always' }), Math.random).onCrash({ ...input, failed: false })).toEqual({ action: 'restart', attempt: 1, delay: 100 });
  });

  it('allows `burst` restarts within the sliding window, then gives up', () => {
    const s = createSupervisor(restart({ limit: { burst: 3, window: 1000 } }), () => 0.5);
    const crash = (now: number) => s.onCrash({ now, upSince: now, failed: true });
    expect(crash(0)).toMatchObject({ action: 'restart', attempt: 1 });
    expect(crash(100)).toMatchObject({ action: 'restart', attempt: 2 });
    expect(crash(200)).toMatchObject({ action: 'restart', attempt: 3 });
    expect(crash(300)).toEqual({ action: 'limit', restarts: 3 });
  });

  it('slides: restarts older than the window no longer count', () => {
    const s = createSupervisor(restart({ limit: { burst: 2, window: 1000 } }), () => 0.5);
    expect(s.onCrash({ now: 0, upSince: undefined, failed: true }).action).toBe('restart');
    expect(s.onCrash({ now: 600, upSince: undefined, failed: true }).action).toBe('restart');
    // the restart at 0 left the window at 1000
    expect(s.onCrash({ now: 1000, upSince: undefined, failed: true })).toMatchObject({ action: 'restart', attempt: 3, delay: 400 });
    expect(s.onCrash({ now: 1100, upSince: undefined, failed: true })).toEqual({ action: 'limit', restarts: 2 });
  });

  it('starts the backoff over when the instance stayed up longer than the window', () => {
    const s = createSupervisor(restart({ limit: { burst: 5, window: 1000 } }), () => 0.5);
    expect(s.onCrash({ now: 0, upSince: 0, failed: true })).toMatchObject({ delay: 100 });
    expect(s.onCrash({ now: 200, upSince: 150, failed: true })).toMatchObject({ delay: 200 });
    expect(s.attempt).toBe(2);
    expect(s.onCrash({ now: 2000, upSince: 400, failed: true })).toEqual({ action: 'restart', attempt: 1, delay: 100 });
  });
});

describe('supervision in the orchestrator', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const graph = { db: [], web: ['db'], api: ['web'], side: [] };

  async function running(overrides: ConfigOverrides, scripts: Harness['scripts'] = {}, options: { random?: () => number } = {}): Promise<Harness> {
    const h = makeHarness({
      graph,
      configs: { db: overrides },
      scripts,
      ...(options.random ? { clock: { ...systemClock, random: options.random } } : {}),
    });
    await h.orch.start();
    h.events.length = 0;
    h.transitions.length = 0;
    return h;
  }

  /** Crashes the current db instance and returns the clock time a new db instance started. */
  async function crashAndTimeRestart(h: Harness, error: unknown = new Error('boom')): Promise<number> {
    const crashedAt = Date.now();
    const count = h.instances.db?.length ?? 0;
    h.probe('db').ctx.crashed(error);
    for (let waited = 0; (h.instances.db?.length ?? 0) === count; waited++) {
      if (waited > 100_000) throw new Error('no restart');
      await vi.advanceTimersByTimeAsync(1);
    }
    await flush();
    return Date.now() - crashedAt;
  }

  it('restarts after 100, 200, 400, 800 ms with jitter 0', async () => {
    const h = await running({ restart: { limit: { burst: 10 } } });
    const delays = [];
    for (let i = 0; i < 4; i++) delays.push(await crashAndTimeRestart(h));
    expect(delays).toEqual([100, 200, 400, 800]);
    expect(h.transitions.filter((t) => t.service === 'db' && t.to === 'restarting').map((t) => [t.attempt, t.delay])).toEqual([
      [1, 100],
      [2, 200],
      [3, 400],
      [4, 800],
    ]);
    expect(h.orch.stats().db).toMatchObject({ state: 'ready', restarts: 4 });
  });

  it('restarts after 105, 210, 420, 840 ms with jitter 0.1 and random() = 0.75', async () => {
    const h = await running({ restart: { backoff: { jitter: 0.1 }, limit: { burst: 10 } } }, {}, { random: () => 0.75 });
    const delays = [];
    for (let i = 0; i < 4; i++) delays.push(await crashAndTimeRestart(h));
    expect(delays).toEqual([105, 210, 420, 840]);
  });

  it('stops the dependents first (reverse order), then the crashed instance, and restarts them all after the delay', async () => {
    const h = await running({});
    h.probe('db').ctx.crashed(new Error('connection lost'));
    await flush();
    expect(h.events).toEqual(['stop api', 'stopped api', 'stop web', 'stopped web', 'stop db', 'stopped db']);
    expect(h.orch.states()).toEqual({ db: 'restarting', web: 'stopped', api: 'stopped', side: 'ready' });
    await vi.advanceTimersByTimeAsync(99);
    expect(h.events).not.toContain('start db');
    await vi.advanceTimersByTimeAsync(1);
    await flush();
    expect(h.events.slice(6)).toEqual(['start db', 'started db', 'start web', 'started web', 'start api', 'started api']);
    expect(h.orch.states()).toEqual({ db: 'ready', web: 'ready', api: 'ready', side: 'ready' });
    // new instances, built by kind.create
    expect([h.instances.db?.length, h.instances.web?.length, h.instances.api?.length, h.instances.side?.length]).toEqual([2, 2, 2, 1]);
    expect(h.transitions.filter((t) => t.service === 'web').map((t) => t.to)).toEqual(['stopping', 'stopped', 'created', 'starting', 'ready']);
    expect(h.transitions.find((t) => t.to === 'restarting')).toMatchObject({ service: 'db', from: 'ready', attempt: 1, delay: 100 });
    const line = h.logs.find((l) => l.msg === 'crashed, restarting');
    expect(line).toMatchObject({ service: 'db', attempt: 1, delay: 100 });
    // pino's err serializer appends the cause's message
    expect((line?.err as { message?: string } | undefined)?.message).toMatch(/^db \(probe\) crashed: connection lost/);
    expect(h.orch.stats().web?.restarts).toBe(0);
  });

  it('marks the service failed after more than `burst` restarts in the window; dependents stay stopped, the rest runs', async () => {
    const h = await running({ restart: { limit: { burst: 2, window: 60_000 } } });
    expect(await crashAndTimeRestart(h, new Error('boom 1'))).toBe(100);
    expect(await crashAndTimeRestart(h, new Error('boom 2'))).toBe(200);
    h.probe('db').ctx.crashed(new Error('boom 3'));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.instances.db).toHaveLength(3);
    expect(h.orch.states()).toEqual({ db: 'failed', web: 'stopped', api: 'stopped', side: 'ready' });
    const stats = h.orch.stats().db;
    expect(stats?.restarts).toBe(2);
    expect(stats?.lastError).toMatchObject({ code: 'HX_ERR_RESTART_LIMIT', service: 'db' });
    expect((stats?.lastError as Error).message).toBe('db (probe) failed: it died again after 2 restarts within 60.0 s; last error: db (probe) crashed: boom 3');
    const line = h.logs.find((l) => l.msg === 'restart limit reached, giving up');
    expect(line).toMatchObject({ service: 'db', attempts: 3 });
    expect(h.transitions.filter((t) => t.service === 'db').at(-1)).toMatchObject({ from: 'ready', to: 'failed' });
    // after the last crash: dependents stopped, then the dead instance; nothing restarted
    expect(h.events.slice(-6)).toEqual(['stop api', 'stopped api', 'stop web', 'stopped web', 'stop db', 'stopped db']);
    // the graph still stops cleanly
    await h.orch.stop();
    expect(h.orch.states()).toEqual({ db: 'failed', web: 'stopped', api: 'stopped', side: 'stopped' });
  });

  it('starts the count over once the service stayed up longer than the window', async () => {
    const h = await running({ restart: { limit: { burst: 2, window: 1000 } } });
    expect(await crashAndTimeRestart(h)).toBe(100);
    expect(await crashAndTimeRestart(h)).toBe(200);
    await vi.advanceTimersByTimeAsync(1001);
    expect(await crashAndTimeRestart(h)).toBe(100);
    expect(await crashAndTimeRestart(h)).toBe(200);
    h.probe('db').ctx.crashed(new Error('again'));
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.orch.state('db')).toBe('failed');
  });

  it('counts a restart that fails to start as another crash and backs off again', async () => {
    const h = await running({}, { db: { start: (_signal, probe) => (probe.index === 1 ? Promise.reject(new Error('still down')) : undefined) } });
    h.probe('db').ctx.crashed(new Error('boom'));
    await vi.advanceTimersByTimeAsync(100);
    await flush();
    expect(h.orch.state('db')).toBe('restarting');
    expect(h.transitions.filter((t) => t.to === 'restarting').map((t) => [t.from, t.delay])).toEqual([
      ['ready', 100],
      ['starting', 200],
    ]);
    expect(h.logs.some((l) => l.msg === 'start failed, restarting')).toBe(true);
    expect(h.events).not.toContain('start web');
    await vi.advanceTimersByTimeAsync(200);
    await flush();
    expect(h.orch.states()).toEqual({ db: 'ready', web: 'ready', api: 'ready', side: 'ready' });
    expect(at(h.events, 'start web')).toBeGreaterThan(h.events.lastIndexOf('started db'));
  });

  it("policy 'no': a failure marks the service failed, a clean exit stopped; dependents stop", async () => {
    const failing = await running({ restart: { policy: 'no' } });
    failing.probe('db').ctx.crashed(new Error('boom'));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(failing.orch.states()).toEqual({ db: 'failed', web: 'stopped', api: 'stopped', side: 'ready' });
    expect(failing.events).toContain('stopped db');
    expect(failing.instances.db).toHaveLength(1);
    expect(failing.logs.find((l) => l.msg === 'crashed')).toMatchObject({ service: 'db' });

    const exiting = await running({ restart: { policy: 'no' } });
    exiting.probe('db').ctx.crashed();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(exiting.orch.state('db')).toBe('stopped');
    expect(exiting.instances.db).toHaveLength(1);
  });

  it("policy 'on-failure': restarts after an error, not after a clean exit", async () => {
    const exiting = await running({ restart: { policy: 'on-failure' } });
    exiting.probe('db').ctx.crashed();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(exiting.orch.state('db')).toBe('stopped');
    expect(exiting.instances.db).toHaveLength(1);
    expect(exiting.logs.find((l) => l.msg === 'exited')).toMatchObject({ service: 'db' });

    const failing = await running({ restart: { policy: 'on-failure' } });
    expect(await crashAndTimeRestart(failing)).toBe(100);
    expect(failing.orch.state('db')).toBe('ready');
  });

  it("policy 'always': restarts after a clean exit too", async () => {
    const h = await running({ restart: { policy: 'always' } });
    h.probe('db').ctx.crashed();
    await flush();
    expect(h.transitions.find((t) => t.to === 'restarting')).toMatchObject({ service: 'db', attempt: 1, delay: 100 });
    expect(h.transitions.find((t) => t.to === 'restarting')?.error).toBeUndefined();
    expect(h.logs.find((l) => l.msg === 'exited, restarting')).toMatchObject({ service: 'db', attempt: 1, delay: 100 });
    await vi.advanceTimersByTimeAsync(100);
    await flush();
    expect(h.orch.state('db')).toBe('ready');
    expect(h.instances.db).toHaveLength(2);
  });

  it('ignores a crash during the stop of the graph', async () => {
    const webStop = deferred();
    const h = await running({}, { web: { stop: () => webStop.promise } });
    const stopping = h.orch.stop();
    await flush();
    h.probe('db').ctx.crashed(new Error('gone while stopping'));
    webStop.resolve();
    await stopping;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.instances.db).toHaveLength(1);
    expect(h.orch.states()).toEqual({ db: 'stopped', web: 'stopped', api: 'stopped', side: 'stopped' });
  });

  it('a stop during the backoff cancels the restart', async () => {
    const h = await running({});
    h.probe('db').ctx.crashed(new Error('boom'));
    await flush();
    expect(h.orch.state('db')).toBe('restarting');
    await h.orch.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.instances.db).toHaveLength(1);
    expect(h.orch.states()).toEqual({ db: 'stopped', web: 'stopped', api: 'stopped', side: 'stopped' });
  });

  it('a stop while a restarted instance is starting aborts that start and stops it', async () => {
    const h = await running({}, { db: { start: (signal, probe) => (probe.index === 1 ? untilAborted(signal) : undefined) } });
    h.probe('db').ctx.crashed(new Error('boom'));
    await vi.advanceTimersByTimeAsync(100);
    await flush();
    expect(h.orch.state('db')).toBe('starting');
    await h.orch.stop();
    expect(h.probe('db').startSignal?.aborted).toBe(true);
    expect(h.events.slice(-2)).toEqual(['stop db', 'stopped db']);
    expect(h.orch.states()).toEqual({ db: 'stopped', web: 'stopped', api: 'stopped', side: 'stopped' });
  });

  it('ignores crashed() from a replaced instance, and handles one reported during start once ready', async () => {
    const h = await running(
      {},
      { db: { start: (_signal, probe) => void (probe.index === 1 && probe.ctx.crashed(new Error('died while starting'))) } },
    );
    const first = h.probe('db');
    first.ctx.crashed(new Error('boom'));
    await vi.advanceTimersByTimeAsync(100);
    await flush();
    // instance 1 reported a crash during its start: handled once it was ready
    expect(h.transitions.filter((t) => t.to === 'restarting').map((t) => t.delay)).toEqual([100, 200]);
    await vi.advanceTimersByTimeAsync(200);
    await flush();
    expect(h.orch.state('db')).toBe('ready');
    first.ctx.crashed(new Error('stale'));
    await flush();
    expect(h.orch.state('db')).toBe('ready');
    expect(h.instances.db).toHaveLength(3);
  });

  it('keeps supervising one branch while another restarts', async () => {
    const h = await running({});
    h.probe('db').ctx.crashed(new Error('boom'));
    h.probe('side').ctx.crashed(new Error('side boom'));
    await vi.advanceTimersByTimeAsync(100);
    await flush();
    expect(h.orch.states()).toEqual({ db: 'ready', web: 'ready', api: 'ready', side: 'ready' });
    expect(h.instances.side).toHaveLength(2);
  });
});
