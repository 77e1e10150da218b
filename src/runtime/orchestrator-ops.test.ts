import { afterEach, describe, expect, it, vi } from 'vitest';
import { deferred, flush, makeHarness } from '../../test/helpers/probe-kind.js';
import type { Service } from '../kinds/contract.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('operations on one service (stopService, startService, restartService)', () => {
  it('stops a service after its dependents, keeps it stopped, then starts it and its dependents again', async () => {
    const h = makeHarness({ graph: { db: [], web: ['db'], cache: [] } });
    await h.orch.start();
    h.events.length = 0;
    await h.orch.stopService('db');
    expect(h.orch.states()).toEqual({ db: 'stopped', web: 'stopped', cache: 'ready' });
    expect(h.events).toEqual(['stop web', 'stopped web', 'stop db', 'stopped db']);
    expect(h.orch.stats().db).toMatchObject({ state: 'stopped', stoppedByOperator: true });
    expect(h.orch.readiness()).toMatchObject({ ready: false, waiting: { db: 'stopped', web: 'stopped' } });
    expect(h.orch.readiness(['cache'])).toMatchObject({ ready: true });
    // a service not run here is not this process's to answer for
    expect(h.orch.readiness(['cache', 'elsewhere'])).toMatchObject({ ready: true, waiting: {} });
    // nothing brings it back by itself
    await flush();
    expect(h.orch.state('db')).toBe('stopped');
    h.events.length = 0;
    await h.orch.startService('db');
    await flush();
    expect(h.orch.states()).toEqual({ db: 'ready', web: 'ready', cache: 'ready' });
    expect(h.events).toEqual(['start db', 'started db', 'start web', 'started web']);
    // new instances: an instance starts once
    expect(h.instances.db!.map((p) => p.index)).toEqual([0, 1]);
    expect(h.orch.stats().db).toMatchObject({ stoppedByOperator: false, restarts: 0 });
    await h.orch.stop();
  });

  it('restarts a service with a new instance and brings its dependents back', async () => {
    const h = makeHarness({ graph: { db: [], web: ['db'] } });
    await h.orch.start();
    const before = h.orch.stats().db!.since;
    h.events.length = 0;
    await h.orch.restartService('db');
    await flush();
    expect(h.events).toEqual(['stop web', 'stopped web', 'stop db', 'stopped db', 'start db', 'started db', 'start web', 'started web']);
    expect(h.orch.states()).toEqual({ db: 'ready', web: 'ready' });
    expect(h.orch.stats().db!.since).toBeGreaterThanOrEqual(before);
    expect(h.instances.web!).toHaveLength(2);
    await h.orch.stop();
  });

  it('starts a service failed for good afresh (its restart policy starts over)', async () => {
    vi.useFakeTimers();
    let fail = true;
    const h = makeHarness({
      graph: { db: [], web: ['db'] },
      configs: { db: { restart: { limit: { burst: 1, window: 60_000 } } } },
      scripts: {
        db: {
          start: () => {
            if (fail && h.instances.db!.length > 1) throw new Error('port taken');
          },
        },
      },
    });
    await h.orch.start();
    h.probe('db').ctx.crashed(new Error('lost'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.orch.state('db')).toBe('failed');
    fail = false;
    const started = h.orch.startService('db');
    await vi.advanceTimersByTimeAsync(10);
    await started;
    await flush();
    expect(h.orch.states()).toEqual({ db: 'ready', web: 'ready' });
    await h.orch.stop();
  });

  it('rejects startService with the start error when the new instance fails to start', async () => {
    const h = makeHarness({
      graph: { db: [] },
      configs: { db: { restart: { policy: 'no' } } },
      scripts: { db: { start: () => (h.instances.db!.length > 1 ? Promise.reject(new Error('disk full')) : undefined) } },
    });
    await h.orch.start();
    await h.orch.stopService('db');
    await expect(h.orch.startService('db')).rejects.toMatchObject({ code: 'HX_ERR_SERVICE_OP', message: expect.stringContaining('disk full') });
    expect(h.orch.state('db')).toBe('failed');
    await h.orch.stop();
  });

  it('refuses operations while the graph is not running, and names unknown services', async () => {
    const slow = deferred();
    const h = makeHarness({ graph: { db: [] }, scripts: { db: { start: () => slow.promise } } });
    const started = h.orch.start();
    await flush();
    expect(() => h.orch.stopService('db')).toThrow(expect.objectContaining({ code: 'HX_ERR_SERVICE_OP', message: expect.stringContaining('still starting') }));
    slow.resolve();
    await started;
    await expect(h.orch.restartService('nope')).rejects.toMatchObject({ code: 'HX_ERR_UNKNOWN_SERVICE' });
    await h.orch.stop();
    expect(() => h.orch.startService('db')).toThrow(expect.objectContaining({ code: 'HX_ERR_SERVICE_OP' }));
  });

  it('a stopService during a graph stop settles: the stop of the graph wins', async () => {
    const stopping = deferred();
    const h = makeHarness({ graph: { db: [] }, scripts: { db: { stop: () => stopping.promise } } });
    await h.orch.start();
    const op = h.orch.stopService('db');
    const graph = h.orch.stop();
    stopping.resolve();
    await op;
    await graph;
    expect(h.orch.state('db')).toBe('stopped');
  });

  it('readiness turns off while draining, and figures() reads a live instance', async () => {
    const h = makeHarness({ graph: { db: [] } });
    await h.orch.start();
    expect(h.orch.readiness()).toEqual({ ready: true, draining: false, waiting: {} });
    expect(h.probe('db').ctx.graph.readiness()).toEqual({ ready: true, draining: false, waiting: {} });
    h.orch.setDraining(true);
    expect(h.probe('db').ctx.graph.readiness()).toEqual({ ready: false, draining: true, waiting: {} });
    expect(h.orch.figures('db')).toEqual([]);
    (h.probe('db') as Service).figures = () => [{ type: 'counter', name: 'probe_things_total', help: 'things', value: 3 }];
    expect(h.orch.figures('db')).toEqual([{ type: 'counter', name: 'probe_things_total', help: 'things', value: 3 }]);
    (h.probe('db') as Service).figures = () => {
      throw new Error('bug');
    };
    expect(h.orch.figures('db')).toEqual([]);
    await h.orch.stop();
    expect(h.orch.figures('db')).toEqual([]);
  });

  it('readiness counts the services another process runs, as it reports them', async () => {
    let remote: Record<string, string> = { bot: 'ready' };
    const h = makeHarness({ graph: { web: [] }, remoteStates: () => remote });
    await h.orch.start();
    expect(h.orch.readiness()).toEqual({ ready: true, draining: false, waiting: {} });
    remote = { bot: 'failed' };
    expect(h.orch.readiness()).toEqual({ ready: false, draining: false, waiting: { bot: 'failed' } });
    expect(h.orch.readiness(['web'])).toMatchObject({ ready: true });
    expect(h.orch.readiness(['web', 'bot'])).toMatchObject({ ready: false, waiting: { bot: 'failed' } });
    await h.orch.stop();
  });

  it('reports when a restarting service is due', async () => {
    vi.useFakeTimers();
    const h = makeHarness({ graph: { db: [] }, configs: { db: { restart: { backoff: { initial: 5000 } } } } });
    await h.orch.start();
    h.probe('db').ctx.crashed(new Error('lost'));
    await vi.advanceTimersByTimeAsync(0);
    const stats = h.orch.stats().db!;
    expect(stats.state).toBe('restarting');
    expect(stats.nextRestartAt).toBe(stats.since + 5000);
    await vi.advanceTimersByTimeAsync(5100);
    expect(h.orch.stats().db).toMatchObject({ state: 'ready', nextRestartAt: undefined, restarts: 1 });
    await h.orch.stop();
  });
});
