import { afterEach, describe, expect, it, vi } from 'vitest';
import { HendrixError } from '../errors/hendrix-error.js';
import { at, deferred, flush, makeHarness, untilAborted } from '../../test/helpers/probe-kind.js';

/** Awaits a promise expected to reject and returns the HendrixError. */
async function rejection(promise: Promise<unknown>): Promise<HendrixError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HendrixError);
  return error as HendrixError;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('start', () => {
  it('creates every instance first, then starts in dependency order and resolves when all are ready', async () => {
    const h = makeHarness({ graph: { web: ['db', 'cache'], db: [], cache: [] } });
    await h.orch.start();
    expect(h.orch.states()).toEqual({ db: 'ready', cache: 'ready', web: 'ready' });
    expect(at(h.events, 'start web')).toBeGreaterThan(at(h.events, 'started db'));
    expect(at(h.events, 'start web')).toBeGreaterThan(at(h.events, 'started cache'));
    // all three were created before anything started
    const firstStart = h.transitions.findIndex((t) => t.to === 'starting');
    expect(h.transitions.slice(0, firstStart).filter((t) => t.to === 'created')).toHaveLength(3);
    expect(h.transitions.filter((t) => t.service === 'web').map((t) => t.to)).toEqual(['created', 'starting', 'ready']);
    expect(h.transitions.find((t) => t.service === 'web' && t.to === 'ready')?.ms).toBeTypeOf('number');
    const web = h.logs.find((l) => l.service === 'web' && l.msg === 'ready');
    expect(web).toMatchObject({ service: 'web', kind: 'probe' });
    expect(web?.ms).toBeTypeOf('number');
  });

  it('starts independent branches in parallel: a slow branch does not delay another', async () => {
    const slow = deferred();
    const h = makeHarness({
      graph: { a: [], b: [], c: ['b'], d: ['a', 'c'] },
      scripts: { a: { start: () => slow.promise } },
    });
    const started = h.orch.start();
    await flush();
    // b, then c (which needs only b) are ready while a is still starting
    expect(h.orch.states()).toEqual({ a: 'starting', b: 'ready', c: 'ready', d: 'created' });
    expect(h.events).not.toContain('start d');
    slow.resolve();
    await started;
    expect(at(h.events, 'start d')).toBeGreaterThan(at(h.events, 'started a'));
    expect(at(h.events, 'start d')).toBeGreaterThan(at(h.events, 'started c'));
  });

  it('gives each service its context: name, kind, config, baseDir, location, locate, logger', async () => {
    const h = makeHarness({
      graph: { db: [], web: ['db'] },
      locate: (path) => ({ file: 'hendrix.yaml', line: path.length, column: 1 }),
    });
    await h.orch.start();
    const ctx = h.probe('web').ctx;
    expect(ctx.name).toBe('web');
    expect(ctx.kind).toBe('probe');
    expect(ctx.config.startTimeout).toBe(1000);
    expect(ctx.baseDir).toBe('/srv/app');
    expect(ctx.location).toEqual(h.plans[1]?.location);
    expect(ctx.locate(['listen', 'port'])).toEqual({ file: 'hendrix.yaml', line: 4, column: 1 });
    expect(ctx.log.bindings()).toEqual({ service: 'web', kind: 'probe' });
    expect(Object.isFrozen(ctx)).toBe(true);
  });

  it('rejects a second start with HX_ERR_USAGE', async () => {
    const h = makeHarness({ graph: { a: [] } });
    await h.orch.start();
    const error = await rejection(h.orch.start());
    expect(error.code).toBe('HX_ERR_USAGE');
    expect(h.events.filter((e) => e === 'start a')).toHaveLength(1);
  });

  it('runs only the named services and their dependencies', async () => {
    const h = makeHarness({ graph: { db: [], cache: [], web: ['db'], admin: ['web', 'cache'] }, only: ['web'] });
    expect(h.orch.services).toEqual(['db', 'web']);
    await h.orch.start();
    expect(h.orch.states()).toEqual({ db: 'ready', web: 'ready' });
    expect(h.instances.cache).toBeUndefined();
    expect(h.instances.admin).toBeUndefined();
    expect(h.orch.address('admin')).toBeUndefined();
    expect(() => h.orch.state('admin')).toThrow(expect.objectContaining({ code: 'HX_ERR_UNKNOWN_SERVICE' }));
    await h.orch.stop();
    expect(h.events).toEqual(['start db', 'started db', 'start web', 'started web', 'stop web', 'stopped web', 'stop db', 'stopped db']);
  });

  it('starts and stops an empty graph', async () => {
    const h = makeHarness({ graph: {} });
    await h.orch.start();
    await h.orch.stop();
    expect(h.orch.states()).toEqual({});
  });

  it('refuses an unknown name in `only`', () => {
    expect(() => makeHarness({ graph: { a: [] }, only: ['nope'] })).toThrow(expect.objectContaining({ code: 'HX_ERR_UNKNOWN_SERVICE' }));
  });

  it('exposes handle() and address() of ready services only', async () => {
    const h = makeHarness({ graph: { hub: [] }, scripts: { hub: { handle: { publish: 'fn' }, address: 'ws://127.0.0.1:1/hub' } } });
    expect(h.orch.handle('hub')).toBeUndefined();
    await h.orch.start();
    expect(h.orch.handle('hub')).toEqual({ publish: 'fn' });
    expect(h.orch.address('hub')).toBe('ws://127.0.0.1:1/hub');
    await h.orch.stop();
    expect(h.orch.address('hub')).toBeUndefined();
  });
});

describe('peer()', () => {
  it('gives the handle of a declared, ready dependency and refuses anything else', async () => {
    let got: unknown;
    let undeclared: unknown;
    const h = makeHarness({
      graph: { db: [], cache: [], web: ['db'] },
      scripts: {
        db: { handle: { query: 'db-handle' } },
        web: {
          start: (_signal, probe) => {
            got = probe.ctx.peer('db');
            try {
              probe.ctx.peer('cache');
            } catch (e) {
              undeclared = e;
            }
          },
        },
      },
    });
    await h.orch.start();
    expect(got).toEqual({ query: 'db-handle' });
    expect(undeclared).toBeInstanceOf(HendrixError);
    expect(undeclared).toMatchObject({ code: 'HX_ERR_PEER', service: 'web' });
    expect((undeclared as Error).message).toMatch(/web may not reach cache/);
  });

  it('refuses a declared dependency that is not ready', async () => {
    const h = makeHarness({ graph: { db: [], web: ['db'] } });
    await h.orch.start();
    const web = h.probe('web');
    const stopping = h.orch.stop();
    await stopping;
    expect(() => web.ctx.peer('db')).toThrow(expect.objectContaining({ code: 'HX_ERR_PEER' }));
  });
});

describe('start failure and rollback', () => {
  it('stops what started in reverse order, never starts dependents of the failed one, and aggregates every error', async () => {
    const cacheGate = deferred();
    const h = makeHarness({
      graph: { db: [], queue: ['db'], cache: [], web: ['queue', 'cache'], api: ['web'], slow: [] },
      scripts: {
        cache: { start: () => cacheGate.promise },
        slow: { start: (signal) => untilAborted(signal) },
      },
    });
    const started = h.orch.start();
    await flush();
    expect(h.orch.states()).toMatchObject({ db: 'ready', queue: 'ready', cache: 'starting', slow: 'starting' });
    cacheGate.reject(new Error('port in use'));
    const error = await rejection(started);

    expect(error.code).toBe('HX_ERR_START_FAILED');
    expect(error.errors.map((e) => [e.code, e.service])).toEqual([
      ['HX_ERR_SERVICE_START', 'cache'],
      ['HX_ERR_DEPENDENCY_FAILED', 'web'],
      ['HX_ERR_DEPENDENCY_FAILED', 'api'],
    ]);
    const cacheError = error.errors[0]!;
    expect(cacheError.message).toBe('cache (probe) failed to start: port in use');
    expect((cacheError.cause as Error).message).toBe('port in use');
    expect(cacheError.location).toEqual(h.plans[2]?.location);
    expect(error.errors[2]?.message).toMatch(/api \(probe\) was not started: it depends on cache/);

    // dependents of the failed service never started; the in-flight start was aborted
    expect(h.events).not.toContain('start web');
    expect(h.events).not.toContain('start api');
    expect(h.probe('slow').startSignal?.aborted).toBe(true);
    // reverse order: queue before db; the failed service gets stop() too (safe after a failed start)
    expect(at(h.events, 'stop db')).toBeGreaterThan(at(h.events, 'stopped queue'));
    expect(h.events).toContain('stop cache');
    expect(h.events).toContain('stop slow');
    expect(h.orch.states()).toEqual({ db: 'stopped', queue: 'stopped', cache: 'failed', web: 'failed', api: 'failed', slow: 'stopped' });
    // stop() after a failed start is a no-op
    await h.orch.stop();
  });

  it('mentions a service blocked by two failed dependencies once', async () => {
    const h = makeHarness({
      graph: { a: [], b: [], c: ['a', 'b'] },
      scripts: { a: { start: () => Promise.reject(new Error('a broke')) }, b: { start: () => Promise.reject(new Error('b broke')) } },
    });
    const error = await rejection(h.orch.start());
    expect(error.errors.map((e) => `${e.code} ${e.service}`)).toEqual([
      'HX_ERR_SERVICE_START a',
      'HX_ERR_DEPENDENCY_FAILED c',
      'HX_ERR_SERVICE_START b',
    ]);
  });

  it('keeps a HendrixError thrown by start and fills in the service', async () => {
    const own = new HendrixError('HX_ERR_LISTEN', { message: 'cannot listen on 127.0.0.1:80' });
    const h = makeHarness({ graph: { web: [] }, scripts: { web: { start: () => Promise.reject(own) } } });
    const error = await rejection(h.orch.start());
    expect(error.errors[0]).toBe(own);
    expect(own.service).toBe('web');
    expect(own.location).toEqual(h.plans[0]?.location);
  });

  it('reports stop errors of the rollback with the start errors', async () => {
    const h = makeHarness({
      graph: { db: [], web: ['db'] },
      scripts: { db: { stop: () => Promise.reject(new Error('db stuck')) }, web: { start: () => Promise.reject(new Error('boom')) } },
    });
    const error = await rejection(h.orch.start());
    expect(error.errors.map((e) => e.code)).toEqual(['HX_ERR_SERVICE_START', 'HX_ERR_SERVICE_STOP']);
    expect(h.orch.state('db')).toBe('failed');
  });

  it('fails without starting anything when a create() throws', async () => {
    const h = makeHarness({ graph: { db: [], web: ['db'], other: [] }, scripts: { db: { createError: new Error('bad module') } } });
    const error = await rejection(h.orch.start());
    expect(error.errors.map((e) => `${e.code} ${e.service}`)).toEqual(['HX_ERR_SERVICE_START db', 'HX_ERR_DEPENDENCY_FAILED web']);
    expect(error.errors[0]?.message).toBe('db (probe) could not be created: bad module');
    expect(h.events).toEqual([]);
    expect(h.orch.states()).toEqual({ db: 'failed', web: 'failed', other: 'stopped' });
  });

  it('treats a crash before the whole graph is ready as a start failure', async () => {
    const gate = deferred();
    const h = makeHarness({ graph: { db: [], other: [] }, scripts: { other: { start: () => gate.promise } } });
    const started = h.orch.start();
    await flush();
    h.probe('db').ctx.crashed(new Error('lost'));
    gate.resolve();
    const error = await rejection(started);
    expect(error.errors.map((e) => e.code)).toEqual(['HX_ERR_SERVICE_CRASHED']);
    expect(h.events).toContain('stop other');
  });
});

describe('start timeout', () => {
  it('aborts the start and fails with HX_ERR_START_TIMEOUT naming the service, kind and location', async () => {
    vi.useFakeTimers();
    const h = makeHarness({
      graph: { db: [], web: ['db'] },
      configs: { db: { startTimeout: 500 } },
      scripts: { db: { start: (signal) => untilAborted(signal) } },
    });
    const started = h.orch.start();
    started.catch(() => {});
    await vi.advanceTimersByTimeAsync(499);
    expect(h.orch.state('db')).toBe('starting');
    expect(h.probe('db').startSignal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await rejection(started);
    expect(h.probe('db').startSignal?.aborted).toBe(true);
    const timeout = error.errors[0]!;
    expect(timeout.code).toBe('HX_ERR_START_TIMEOUT');
    expect(timeout.service).toBe('db');
    expect(timeout.message).toBe('db (probe) did not become ready within 500 ms');
    expect(timeout.location).toEqual(h.plans[0]?.location);
    expect(error.errors[1]?.code).toBe('HX_ERR_DEPENDENCY_FAILED');
  });

  it('abandons a start that ignores the abort after the grace, and still stops it', async () => {
    vi.useFakeTimers();
    const h = makeHarness({
      graph: { db: [] },
      configs: { db: { startTimeout: 500 } },
      abortGrace: 200,
      scripts: { db: { start: () => new Promise(() => {}) } },
    });
    const started = h.orch.start();
    started.catch(() => {});
    await vi.advanceTimersByTimeAsync(500);
    expect(h.events).not.toContain('stop db');
    await vi.advanceTimersByTimeAsync(200);
    const error = await rejection(started);
    expect(error.errors.map((e) => e.code)).toEqual(['HX_ERR_START_TIMEOUT']);
    expect(h.events).toContain('stop db');
  });
});

describe('what a start waits for, and failures reported together', () => {
  it('a start timeout says what the service was waiting for, with the last cause', async () => {
    vi.useFakeTimers();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6667'), { code: 'ECONNREFUSED' });
    const h = makeHarness({
      graph: { bot: [] },
      configs: { bot: { startTimeout: 500 } },
      scripts: {
        bot: {
          start: (signal, probe) => {
            probe.ctx.waiting('connecting to 127.0.0.1:6667');
            probe.ctx.waiting('retrying 127.0.0.1:6667 in 200 ms', refused);
            return untilAborted(signal);
          },
        },
      },
    });
    const waits: string[] = [];
    h.orch.on('waiting', (e) => waits.push(`${e.service}: ${e.reason}`));
    const started = h.orch.start();
    started.catch(() => {});
    await vi.advanceTimersByTimeAsync(100);
    expect(h.orch.stats().bot?.waiting).toBe('retrying 127.0.0.1:6667 in 200 ms');
    await vi.advanceTimersByTimeAsync(400);
    const error = await rejection(started);
    const timeout = error.errors[0]!;
    expect(timeout.code).toBe('HX_ERR_START_TIMEOUT');
    expect(timeout.message).toBe('bot (probe) did not become ready within 500 ms: still retrying 127.0.0.1:6667 in 200 ms (last error: connect ECONNREFUSED 127.0.0.1:6667)');
    expect(timeout.cause).toBe(refused);
    expect(timeout.hint).toContain('retrying 127.0.0.1:6667');
    expect(waits).toEqual(['bot: connecting to 127.0.0.1:6667', 'bot: retrying 127.0.0.1:6667 in 200 ms']);
  });

  it('ignores waiting() outside a start, and forgets the reason once ready', async () => {
    const h = makeHarness({ graph: { a: [] }, scripts: { a: { start: (_s, probe) => probe.ctx.waiting('warming up') } } });
    await h.orch.start();
    expect(h.orch.stats().a?.waiting).toBeUndefined();
    h.probe('a').ctx.waiting('late');
    expect(h.orch.stats().a?.waiting).toBeUndefined();
    await h.orch.stop();
  });

  it('reports every service whose start fails, not only the first: other starts in flight may finish', async () => {
    const second = deferred();
    const h = makeHarness({
      graph: { a: [], b: [], c: [], web: ['a'] },
      rollbackGrace: 300,
      scripts: {
        a: { start: () => Promise.reject(new Error('port 8000 in use')) },
        b: { start: () => second.promise },
        c: { start: (signal) => untilAborted(signal) },
      },
    });
    const started = h.orch.start();
    started.catch(() => {});
    await flush();
    second.reject(new Error('port 8001 in use'));
    const error = await rejection(started);
    expect(error.errors.map((e) => `${e.code} ${e.service}`)).toEqual(['HX_ERR_SERVICE_START a', 'HX_ERR_DEPENDENCY_FAILED web', 'HX_ERR_SERVICE_START b']);
    expect(h.orch.states()).toEqual({ a: 'failed', b: 'failed', c: 'stopped', web: 'failed' });
    expect(h.events).toContain('stop c');
  });

  it('the orchestrator owns "already started": an instance is started once; a restart builds a new one', async () => {
    vi.useFakeTimers();
    const h = makeHarness({ graph: { db: [] } });
    await h.orch.start();
    h.probe('db').ctx.crashed(new Error('lost'));
    await vi.advanceTimersByTimeAsync(150);
    expect(h.orch.state('db')).toBe('ready');
    const instances = h.instances.db!;
    expect(instances.map((p) => p.index)).toEqual([0, 1]);
    expect(instances.every((p) => p.startSignal !== undefined)).toBe(true);
    expect(h.events.filter((e) => e === 'start db')).toHaveLength(2);
    await expect(h.orch.start()).rejects.toMatchObject({ code: 'HX_ERR_USAGE' });
    await h.orch.stop();
  });
});

describe('stop', () => {
  it('stops in reverse dependency order; dependencies stay up until every dependent has stopped', async () => {
    const webStop = deferred();
    const h = makeHarness({
      graph: { db: [], cache: [], web: ['db', 'cache'], worker: ['db'] },
      scripts: { web: { stop: () => webStop.promise } },
    });
    await h.orch.start();
    h.events.length = 0;
    const stopping = h.orch.stop();
    await flush();
    // web and worker stop in parallel; db and cache wait for web
    expect(h.events).toEqual(['stop web', 'stop worker', 'stopped worker']);
    expect(h.orch.states()).toEqual({ db: 'ready', cache: 'ready', web: 'stopping', worker: 'stopped' });
    webStop.resolve();
    await stopping;
    expect(at(h.events, 'stop db')).toBeGreaterThan(at(h.events, 'stopped web'));
    expect(at(h.events, 'stop cache')).toBeGreaterThan(at(h.events, 'stopped web'));
    expect(h.orch.states()).toEqual({ db: 'stopped', cache: 'stopped', web: 'stopped', worker: 'stopped' });
    expect(h.transitions.find((t) => t.service === 'web' && t.to === 'stopped')?.ms).toBeTypeOf('number');
  });

  it('is a no-op when called again: the same promise, one stop() per service', async () => {
    const h = makeHarness({ graph: { a: [] } });
    await h.orch.start();
    const first = h.orch.stop();
    expect(h.orch.stop()).toBe(first);
    await first;
    expect(h.orch.stop()).toBe(first);
    expect(h.events.filter((e) => e === 'stop a')).toHaveLength(1);
  });

  it('attempts every service and aggregates every stop error into HX_ERR_STOP_FAILED', async () => {
    const own = new HendrixError('HX_ERR_SERVICE_STOP', { message: 'queue drain failed' });
    const h = makeHarness({
      graph: { db: [], web: ['db'], queue: [] },
      scripts: { web: { stop: () => Promise.reject(new Error('socket stuck')) }, queue: { stop: () => Promise.reject(own) } },
    });
    await h.orch.start();
    const error = await rejection(h.orch.stop());
    expect(error.code).toBe('HX_ERR_STOP_FAILED');
    expect(error.errors).toHaveLength(2);
    const web = error.errors.find((e) => e.service === 'web');
    expect(web?.message).toBe('web (probe) failed to stop: socket stuck');
    expect(error.errors).toContain(own);
    expect(own.service).toBe('queue');
    // db still stopped after its dependent failed to
    expect(h.events).toContain('stopped db');
    expect(h.orch.states()).toEqual({ db: 'stopped', web: 'failed', queue: 'failed' });
  });

  it('forces a stop that outlasts stopTimeout and records HX_ERR_STOP_TIMEOUT', async () => {
    vi.useFakeTimers();
    const h = makeHarness({
      graph: { db: [], web: ['db'] },
      configs: { web: { stopTimeout: 1000 } },
      // drains until forced, then closes at once
      scripts: { web: { stop: (signal) => untilAborted(signal).catch(() => undefined) } },
    });
    await h.orch.start();
    const stopping = h.orch.stop();
    stopping.catch(() => {});
    await vi.advanceTimersByTimeAsync(999);
    expect(h.probe('web').stopSignal?.aborted).toBe(false);
    expect(h.events).not.toContain('stop db');
    await vi.advanceTimersByTimeAsync(1);
    const error = await rejection(stopping);
    expect(h.probe('web').stopSignal?.aborted).toBe(true);
    expect(error.code).toBe('HX_ERR_STOP_FAILED');
    expect(error.errors.map((e) => `${e.code} ${e.service}`)).toEqual(['HX_ERR_STOP_TIMEOUT web']);
    expect(error.errors[0]?.message).toBe('web (probe) did not stop within 1.00 s and was forced');
    expect(h.orch.states()).toEqual({ db: 'stopped', web: 'stopped' });
    expect(at(h.events, 'stop db')).toBeGreaterThan(at(h.events, 'stopped web'));
  });

  it('abandons a stop that does not return even when forced, after the grace, and moves on', async () => {
    vi.useFakeTimers();
    const h = makeHarness({
      graph: { db: [], web: ['db'] },
      configs: { web: { stopTimeout: 1000 } },
      abortGrace: 300,
      scripts: { web: { stop: () => new Promise(() => {}) } },
    });
    await h.orch.start();
    const stopping = h.orch.stop();
    stopping.catch(() => {});
    await vi.advanceTimersByTimeAsync(1299);
    expect(h.events).not.toContain('stop db');
    await vi.advanceTimersByTimeAsync(1);
    const error = await rejection(stopping);
    expect(error.errors[0]?.message).toMatch(/was forced; it did not return even then and was abandoned/);
    expect(h.orch.states()).toEqual({ db: 'stopped', web: 'failed' });
  });

  it('force() aborts every stop in progress at once and rejects with HX_ERR_FORCED', async () => {
    vi.useFakeTimers();
    const drain = (signal: AbortSignal) => untilAborted(signal).catch(() => undefined);
    const h = makeHarness({
      graph: { db: [], web: ['db'], worker: ['db'] },
      config: { stopTimeout: 60_000 },
      scripts: { web: { stop: drain }, worker: { stop: drain }, db: { stop: drain } },
    });
    await h.orch.start();
    const stopping = h.orch.stop();
    stopping.catch(() => {});
    await vi.advanceTimersByTimeAsync(10);
    expect(h.orch.states()).toEqual({ db: 'ready', web: 'stopping', worker: 'stopping' });
    h.orch.force();
    expect(h.probe('web').stopSignal?.aborted).toBe(true);
    expect(h.probe('worker').stopSignal?.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    const error = await rejection(stopping);
    expect(error.code).toBe('HX_ERR_FORCED');
    // db's stop began after the force: its signal was aborted from the start
    expect(h.probe('db').stopSignal?.aborted).toBe(true);
    expect(h.orch.states()).toEqual({ db: 'stopped', web: 'stopped', worker: 'stopped' });
  });

  it('force() before stop() stops at once', async () => {
    const h = makeHarness({ graph: { a: [] }, scripts: { a: { stop: (signal) => untilAborted(signal).catch(() => undefined) } } });
    await h.orch.start();
    h.orch.force();
    await expect(h.orch.stop()).rejects.toMatchObject({ code: 'HX_ERR_FORCED' });
    expect(h.orch.state('a')).toBe('stopped');
  });

  it('force() during start aborts the starts in flight; start() rejects and stop() reports the force', async () => {
    const h = makeHarness({ graph: { db: [], web: ['db'] }, scripts: { db: { start: (signal) => untilAborted(signal) } } });
    const started = h.orch.start();
    started.catch(() => {});
    await flush();
    h.orch.force();
    expect(h.probe('db').startSignal?.aborted).toBe(true);
    await expect(started).rejects.toMatchObject({ code: 'HX_ERR_START_FAILED' });
    await expect(h.orch.stop()).rejects.toMatchObject({ code: 'HX_ERR_FORCED' });
    expect(h.probe('db').stopSignal?.aborted).toBe(true);
    expect(h.events).not.toContain('start web');
    expect(h.orch.states()).toEqual({ db: 'stopped', web: 'stopped' });
  });

  it('is safe mid-start: cancels pending starts, stops what started, and start() rejects', async () => {
    const h = makeHarness({
      graph: { db: [], web: ['db'], slow: [] },
      scripts: { slow: { start: (signal) => untilAborted(signal) } },
    });
    const started = h.orch.start();
    started.catch(() => {});
    await flush();
    expect(h.orch.states()).toEqual({ db: 'ready', web: 'ready', slow: 'starting' });
    await h.orch.stop();
    const error = await rejection(started);
    expect(error.code).toBe('HX_ERR_START_FAILED');
    expect(error.message).toMatch(/cancelled/);
    expect(error.errors).toEqual([]);
    expect(h.probe('slow').startSignal?.aborted).toBe(true);
    expect(h.events).toContain('stop slow');
    expect(at(h.events, 'stop db')).toBeGreaterThan(at(h.events, 'stopped web'));
    expect(h.orch.states()).toEqual({ db: 'stopped', web: 'stopped', slow: 'stopped' });
  });

  it('stops before start() without touching any service, and refuses a start after that', async () => {
    const h = makeHarness({ graph: { a: [] } });
    await h.orch.stop();
    await expect(h.orch.start()).rejects.toMatchObject({ code: 'HX_ERR_USAGE' });
    expect(h.instances.a).toBeUndefined();
  });

  it('is safe during create(): nothing starts', async () => {
    const h = makeHarness({ graph: { a: [], b: ['a'] } });
    const started = h.orch.start();
    started.catch(() => {});
    await h.orch.stop();
    await expect(started).rejects.toMatchObject({ code: 'HX_ERR_START_FAILED' });
    expect(h.events).toEqual([]);
    expect(h.orch.states()).toEqual({ a: 'stopped', b: 'stopped' });
  });

  it('a throwing transition listener does not break the orchestrator', async () => {
    const h = makeHarness({ graph: { a: [] } });
    h.orch.on('transition', () => {
      throw new Error('listener bug');
    });
    await h.orch.start();
    await h.orch.stop();
    expect(h.orch.state('a')).toBe('stopped');
    expect(h.logs.some((l) => l.msg === 'transition listener failed')).toBe(true);
  });
});

describe('ordering invariants on random graphs', () => {
  /** A small deterministic PRNG (mulberry32). */
  function prng(seed: number): () => number {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: starts after dependencies, stops after dependents, rolls back cleanly', async (seed) => {
    vi.useFakeTimers();
    const random = prng(seed);
    const names = Array.from({ length: 9 }, (_, i) => `s${i}`);
    const graph: Record<string, string[]> = {};
    names.forEach((name, i) => (graph[name] = names.slice(0, i).filter(() => random() < 0.3)));
    const failing = seed % 2 === 0 ? names[Math.floor(random() * names.length)] : undefined;
    const wait = (ms: number, signal: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
      });
    const scripts = Object.fromEntries(
      names.map((name) => {
        const startMs = Math.floor(random() * 50);
        const stopMs = Math.floor(random() * 50);
        return [
          name,
          {
            start: async (signal: AbortSignal) => {
              await wait(startMs, signal);
              if (name === failing) throw new Error('injected');
            },
            stop: () => new Promise<void>((resolve) => setTimeout(resolve, stopMs)),
          },
        ];
      }),
    );
    const h = makeHarness({ graph, scripts });
    const started = h.orch.start();
    started.catch(() => {});
    await vi.advanceTimersByTimeAsync(1000);
    if (failing) await expect(started).rejects.toMatchObject({ code: 'HX_ERR_START_FAILED' });
    else await started;
    const stopping = h.orch.stop();
    await vi.advanceTimersByTimeAsync(1000);
    await stopping;

    const ev = h.events;
    for (const name of names) {
      const start = ev.indexOf(`start ${name}`);
      if (start >= 0) for (const dep of graph[name] ?? []) expect(ev.indexOf(`started ${dep}`)).toBeLessThan(start);
      const stop = ev.indexOf(`stop ${name}`);
      if (start >= 0) expect(stop).toBeGreaterThan(start); // everything that started was stopped
      const dependents = names.filter((n) => graph[n]?.includes(name));
      for (const d of dependents) if (ev.includes(`start ${d}`)) expect(ev.indexOf(`stopped ${d}`)).toBeLessThan(stop);
    }
    expect(Object.values(h.orch.states()).every((s) => s === 'stopped' || s === 'failed')).toBe(true);
    if (failing) expect(h.orch.state(failing)).toBe('failed');
  });
});
