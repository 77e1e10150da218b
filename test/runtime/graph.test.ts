import { join } from 'node:path';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { HendrixError, formatPath, type PathSegment } from '../../src/errors/hendrix-error.js';
import type { ServiceKind } from '../../src/kinds/contract.js';
import { defineServiceKind } from '../../src/kinds/define-service-kind.js';
import { analyzeGraph, buildGraph, referencesOf } from '../../src/runtime/graph.js';
import { createPlan } from '../../src/runtime/plan.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { testKinds } from '../helpers/kinds.js';

const makeDir = useManifestDirs();

const tls = defineServiceKind({
  kind: 'tls',
  schema: z.strictObject({ serves: z.string(), also: z.array(z.string()).default([]) }),
  references: ['serves', 'also'],
  create: () => ({ async start() {}, async stop() {} }),
}) as unknown as ServiceKind;

const relay = defineServiceKind({
  kind: 'relay',
  schema: z.strictObject({ routes: z.array(z.object({ from: z.string(), to: z.string() })).default([]) }),
  references: (config) => config.routes.map((r, i) => ({ path: ['routes', i, 'from'], target: r.from.split(':')[0]! })),
  create: () => ({ async start() {}, async stop() {} }),
}) as unknown as ServiceKind;

/** A graph input where every path is "located" on a line of its own, named after the path. */
function input(services: Record<string, Record<string, unknown>>, kinds: Record<string, ServiceKind> = {}) {
  return {
    manifest: { services },
    kinds: new Map(Object.entries(kinds)),
    provenance: { locate: (path: readonly PathSegment[]) => ({ file: formatPath(path), line: 1, column: 1 }) },
  };
}

const svc = (dependsOn: string[] = [], extra: Record<string, unknown> = {}) => ({ kind: 'x', dependsOn, ...extra });

function thrown(fn: () => unknown): HendrixError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HendrixError);
    return e as HendrixError;
  }
  throw new Error('did not throw');
}

describe('buildGraph', () => {
  it('orders dependencies first, ties in manifest order', () => {
    const graph = buildGraph(input({ web: svc(['db', 'cache']), worker: svc(['db']), cache: svc(), db: svc(), metrics: svc() }));
    expect(graph.nodes).toEqual(['web', 'worker', 'cache', 'db', 'metrics']);
    expect(graph.order).toEqual(['cache', 'db', 'web', 'worker', 'metrics']);
    expect(graph.dependencies('web')).toEqual(['db', 'cache']);
    expect(graph.dependents('db')).toEqual(['web', 'worker']);
    expect(graph.dependents('metrics')).toEqual([]);
  });

  it('keeps independent branches apart and computes closures in start order', () => {
    const graph = buildGraph(input({ a: svc(['b']), b: svc(['c']), c: svc(), x: svc(['y']), y: svc() }));
    expect(graph.closure(['a'])).toEqual(['c', 'b', 'a']);
    expect(graph.closure(['x', 'b'])).toEqual(['c', 'b', 'y', 'x']);
    expect(graph.closure([])).toEqual([]);
    const error = thrown(() => graph.closure(['xx']));
    expect(error.code).toBe('HX_ERR_UNKNOWN_SERVICE');
    expect(error.message).toContain('did you mean `x`?');
  });

  it('adds edges from reference fields and reference functions', () => {
    const graph = buildGraph(
      input(
        { web: svc(), api: svc(), secure: { kind: 'tls', serves: 'web', also: ['api'], dependsOn: [] }, bot: { kind: 'relay', routes: [{ from: 'secure:alerts', to: '#ops' }], dependsOn: ['web'] } },
        { secure: tls, bot: relay },
      ),
    );
    expect(graph.edges.map((e) => [e.from, e.to, e.via, e.location?.file])).toEqual([
      ['secure', 'web', 'serves', 'services.secure.serves'],
      ['secure', 'api', 'also', 'services.secure.also[0]'],
      ['bot', 'web', 'dependsOn', 'services.bot.dependsOn[0]'],
      ['bot', 'secure', 'routes', 'services.bot.routes[0].from'],
    ]);
    expect(graph.order).toEqual(['web', 'api', 'secure', 'bot']);
  });

  it('reports unknown references with did-you-mean, all at once', () => {
    const error = thrown(() => buildGraph(input({ web: svc(['dbb', 'nothing']), db: svc(), tls: { kind: 'tls', serves: 'webb' } }, { tls })));
    expect(error.code).toBe('HX_ERR_MANIFEST');
    expect(error.errors.map((e) => [e.code, e.message])).toEqual([
      ['HX_ERR_UNKNOWN_REFERENCE', 'service `web` depends on `dbb`, which is not a declared service — did you mean `db`?'],
      ['HX_ERR_UNKNOWN_REFERENCE', 'service `web` depends on `nothing`, which is not a declared service'],
      ['HX_ERR_UNKNOWN_REFERENCE', '`serves` of service `tls` names `webb`, which is not a declared service — did you mean `web`?'],
    ]);
  });

  it('reports a self dependency and every edge of every cycle', () => {
    const { errors } = analyzeGraph(input({ a: svc(['b']), b: svc(['c']), c: svc(['a', 'b']), d: svc(['d']), e: svc(['a']) }));
    expect(errors.map((e) => e.message)).toEqual([
      'service `d` depends on itself (through `dependsOn`)',
      'dependency cycle: a → b → c → a',
      'dependency cycle: b → c → b',
    ]);
    expect(errors[1]!.related.map((r) => [r.message, r.location?.file])).toEqual([
      ['a → b (dependsOn)', 'services.a.dependsOn[0]'],
      ['b → c (dependsOn)', 'services.b.dependsOn[0]'],
      ['c → a (dependsOn)', 'services.c.dependsOn[0]'],
    ]);
    expect(errors[1]!.path).toEqual(['services', 'a', 'dependsOn', 0]);
  });

  it('does not report a reference to a declared service that failed validation', () => {
    const { errors } = analyzeGraph(input({ web: svc(['db']) }), ['web', 'db']);
    expect(errors).toEqual([]);
  });

  it('reads only field references of a service whose config is not validated', () => {
    const { graph, errors } = analyzeGraph(input({ bot: { kind: 'relay', routes: 'nonsense', dependsOn: ['web'] }, web: svc() }, { bot: relay }), undefined, new Set(['bot']));
    expect(errors).toEqual([]);
    expect(graph.edges.map((e) => e.to)).toEqual(['web']);
  });

  it('lists references of a kind', () => {
    expect(referencesOf(tls, { serves: 'web', also: ['a', 3, 'b'] })).toEqual([
      { path: ['serves'], target: 'web' },
      { path: ['also', 0], target: 'a' },
      { path: ['also', 2], target: 'b' },
    ]);
    expect(referencesOf(undefined, { serves: 'web' })).toEqual([]);
  });
});

describe('the graph of a resolved manifest', () => {
  it('names the edges of a cycle across base and overlay with their file:line', async () => {
    const dir = makeDir({
      'hendrix.yaml': 'services:\n  a:\n    kind: http\n    dependsOn: [b]\n  b:\n    kind: http\n    listen: 8001\n',
      'hendrix.prod.yaml': 'services:\n  b:\n    dependsOn:\n      - a\n',
    });
    const error = await createPlan(join(dir, 'hendrix.yaml'), { kinds: testKinds, cwd: dir, env: 'prod', environment: {} }).then(
      () => undefined,
      (e: unknown) => e as HendrixError,
    );
    expect(error?.errors.map((e) => e.code)).toEqual(['HX_ERR_CYCLE']);
    expect(error?.errors[0]!.related.map((r) => `${r.message} ${r.location?.file}:${r.location?.line}`)).toEqual([
      'a → b (dependsOn) hendrix.yaml:4',
      'b → a (dependsOn) hendrix.prod.yaml:4',
    ]);
  });
});
