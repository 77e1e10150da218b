import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { makeHarness, flush } from '../../test/helpers/probe-kind.js';
import { currentFaultTag, openFaultWindow, runAsService, type FaultTag } from './fault-scope.js';
import { projectFrames } from './fault-stack.js';

/**
 * Which async context the code of a service runs in, found out rather than guessed: the
 * orchestrator tags each create and start, and what they create keeps the tag.
 */

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

const later = <T>(fn: () => T, ms = 5): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(fn()), ms));

describe('the tag of a service instance', () => {
  it('rides on a timer its start() set, when the timer fires after start() returned', async () => {
    let fired: Promise<FaultTag | undefined> | undefined;
    const h = makeHarness({ graph: { db: [], web: ['db'] }, scripts: { web: { start: () => void (fired = later(currentFaultTag, 20)) } } });
    await h.orch.start();
    expect(currentFaultTag()).toBeUndefined();
    expect(await fired).toEqual({ service: 'web', generation: 1, owner: h.orch });
  });

  it('rides on the code after an await in start(), but not into a .then() that runs after start() returned', async () => {
    let afterAwait: FaultTag | undefined;
    let settled: Promise<FaultTag | undefined> | undefined;
    const h = makeHarness({
      graph: { db: [] },
      scripts: {
        db: {
          start: async () => {
            await flush();
            afterAwait = currentFaultTag();
            settled = new Promise<void>((r) => setTimeout(r, 10)).then(() => later(currentFaultTag, 1));
          },
        },
      },
    });
    await h.orch.start();
    expect(afterAwait?.service).toBe('db');
    // promise hooks are off once the start returned: the reaction runs in no tagged context (an
    // unhandled rejection of that promise is still found: Node reports it in the promise's own
    // context, which test/reliability/app-faults.test.ts shows through the CLI)
    expect(await settled).toBeUndefined();
  });

  it('names the instance: a restarted service gets a new generation', async () => {
    const tags: (FaultTag | undefined)[] = [];
    const h = makeHarness({ graph: { db: [] }, scripts: { db: { start: () => void tags.push(currentFaultTag()) } } });
    await h.orch.start();
    h.probe('db').ctx.crashed(new Error('lost'));
    while (h.orch.state('db') !== 'ready' || tags.length < 2) await later(() => undefined, 10);
    expect(tags.map((t) => t?.generation)).toEqual([1, 2]);
    await h.orch.stop();
  });

  it('is not carried into what a callback creates once no create or start runs (the hook is off)', async () => {
    let inner: Promise<FaultTag | undefined> | undefined;
    const h = makeHarness({ graph: { db: [] }, scripts: { db: { start: () => void setTimeout(() => (inner = later(currentFaultTag)), 10) } } });
    await h.orch.start();
    while (inner === undefined) await later(() => undefined, 5);
    expect(await inner).toBeUndefined();
  });

  it('is not on a request to a server made in start(): the connection is accepted after start, with the hook off', async () => {
    let url = '';
    const seen: (FaultTag | undefined)[] = [];
    const h = makeHarness({
      graph: { web: [] },
      scripts: {
        web: {
          start: async () => {
            const server = createServer((_req, res) => {
              seen.push(currentFaultTag());
              res.end('ok');
            });
            servers.push(server);
            await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
            url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
          },
        },
      },
    });
    await h.orch.start();
    expect(await (await fetch(url)).text()).toBe('ok');
    // the request is blamed through the request context (crosstown's, when on) or the stack
    expect(seen).toEqual([undefined]);
  });

  it('nests: the innermost runAsService wins, and the outer one comes back', () => {
    const a = { service: 'a', generation: 1, owner: {} };
    const b = { service: 'b', generation: 1, owner: {} };
    const close = openFaultWindow();
    try {
      runAsService(a, () => {
        expect(runAsService(b, currentFaultTag)).toBe(b);
        expect(currentFaultTag()).toBe(a);
      });
    } finally {
      close();
      close();
    }
    expect(currentFaultTag()).toBeUndefined();
  });
});

describe('orchestrator.crash', () => {
  it('crashes a ready service like ctx.crashed: the restart policy applies', async () => {
    const h = makeHarness({ graph: { db: [], web: [] } });
    await h.orch.start();
    expect(h.orch.crash('db', new Error('unhandled'), 1)).toBe(true);
    while (h.orch.state('db') !== 'ready') await later(() => undefined, 10);
    expect(h.orch.stats()['db']?.restarts).toBe(1);
    expect(h.orch.stats()['web']?.restarts).toBe(0);
    await h.orch.stop();
  });

  it('refuses a fault of a replaced instance, of an unknown service, or during the stop', async () => {
    const h = makeHarness({ graph: { db: [] } });
    await h.orch.start();
    expect(h.orch.crash('db', new Error('old'), 0)).toBe(false);
    expect(h.orch.crash('nope', new Error('who'))).toBe(false);
    const stopped = h.orch.stop();
    expect(h.orch.crash('db', new Error('late'))).toBe(false);
    await stopped;
    expect(h.orch.stats()['db']?.restarts).toBe(0);
  });
});

describe('projectFrames', () => {
  it('keeps the frames of project files, innermost first, and drops Node, node_modules and hendrix', () => {
    const error = new Error('boom');
    error.stack = [
      'Error: boom',
      '    at JSON.parse (<anonymous>)',
      '    at Hub.publish (/opt/hendrix/node_modules/ws/lib/x.js:1:2)',
      `    at Orchestrator.run (${new URL('./orchestrator-engine.ts', import.meta.url).pathname}:10:5)`,
      '    at Timeout._onTimeout (file:///srv/app/app.mjs:7:30)',
      '    at /srv/app/lib/util.cjs:3:9',
      '    at async Promise.all (index 0)',
      '    at listOnTimeout (node:internal/timers:573:17)',
    ].join('\n');
    expect(projectFrames(error)).toEqual([
      { file: '/srv/app/app.mjs', line: 7, column: 30 },
      { file: '/srv/app/lib/util.cjs', line: 3, column: 9 },
    ]);
  });

  it('finds nothing in a value that is not an error', () => {
    expect(projectFrames('a string')).toEqual([]);
    expect(projectFrames({ stack: 'at /srv/app/x.js:1:1' })).toEqual([]);
  });
});
