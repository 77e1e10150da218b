import { describe, expect, it } from 'vitest';
import { TaskQueue } from './queue.js';

describe('TaskQueue', () => {
  it('is first in, first out', () => {
    const q = new TaskQueue<number>();
    expect([q.size, q.shift()]).toEqual([0, undefined]);
    q.push(1);
    q.push(2);
    q.push(3);
    expect([q.shift(), q.size]).toEqual([1, 2]);
    q.push(4);
    expect([...q]).toEqual([2, 3, 4]);
    expect([q.shift(), q.shift(), q.shift(), q.shift(), q.size]).toEqual([2, 3, 4, undefined, 0]);
  });

  it('keeps order across compactions of a long queue', () => {
    const q = new TaskQueue<number>();
    const out: number[] = [];
    for (let i = 0; i < 5000; i++) {
      q.push(i);
      if (i % 3 === 0) out.push(q.shift()!);
    }
    while (q.size) out.push(q.shift()!);
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('drain() empties it, oldest first', () => {
    const q = new TaskQueue<string>();
    q.push('a');
    q.push('b');
    q.shift();
    q.push('c');
    expect(q.drain()).toEqual(['b', 'c']);
    expect(q.size).toBe(0);
  });
});
