import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, nestedDeeperThan } from './json-depth.js';

const nest = (depth: number, open = '[', close = ']'): string => open.repeat(depth) + close.repeat(depth);

describe('nestedDeeperThan', () => {
  it('counts arrays and objects, and nothing inside strings', () => {
    expect(nestedDeeperThan(nest(MAX_DEPTH))).toBe(false);
    expect(nestedDeeperThan(nest(MAX_DEPTH + 1))).toBe(true);
    expect(nestedDeeperThan(nest(10_000))).toBe(true);
    expect(nestedDeeperThan('{"a":'.repeat(200) + '1' + '}'.repeat(200))).toBe(true);
    // brackets in strings, escaped quotes and escaped backslashes do not count
    const inString = JSON.stringify({ text: '['.repeat(1_000) + '"\\' + '{'.repeat(1_000) });
    expect(nestedDeeperThan(inString)).toBe(false);
    expect(nestedDeeperThan(`["\\\\",${nest(200)}]`)).toBe(true);
    expect(nestedDeeperThan(`["\\"${'['.repeat(300)}"]`)).toBe(false);
  });

  it('judges depth, not validity: siblings do not add up, unclosed text still counts', () => {
    expect(nestedDeeperThan(`[${Array(1_000).fill('[[1]]').join(',')}]`)).toBe(false);
    expect(nestedDeeperThan('['.repeat(200))).toBe(true);
    expect(nestedDeeperThan('"' + '['.repeat(300))).toBe(false); // an unclosed string
    expect(nestedDeeperThan(nest(5), 4)).toBe(true);
  });
});
