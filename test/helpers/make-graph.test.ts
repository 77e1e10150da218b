import { describe, expect, it } from 'vitest';
import { makeGraph } from './make-graph.js';

describe('makeGraph (test helper)', () => {
  it('orders dependencies first, ties in manifest order, and computes closures', () => {
    const g = makeGraph({ web: ['db', 'cache'], db: [], cache: [], worker: ['db'] });
    expect(g.order).toEqual(['db', 'cache', 'web', 'worker']);
    expect(g.dependencies('web')).toEqual(['db', 'cache']);
    expect(g.dependents('db')).toEqual(['web', 'worker']);
    expect(g.closure(['worker'])).toEqual(['db', 'worker']);
  });

  it('rejects cycles and unknown names', () => {
    expect(() => makeGraph({ a: ['b'], b: ['a'] })).toThrow(/cycle/);
    expect(() => makeGraph({ a: ['x'] })).toThrow(/unknown/);
  });
});
