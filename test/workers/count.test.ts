import { describe, expect, it } from 'vitest';
import { isHendrixError } from '../../src/errors/hendrix-error.js';
import { parseWorkersFlag, workerCount } from '../../src/workers/count.js';

// How many workers serve a graph: `--workers auto|N` over the manifest's `workers:`.

describe('parseWorkersFlag', () => {
  it('takes `auto` and whole numbers from 1 to 1024; no flag is undefined', () => {
    expect(parseWorkersFlag(undefined)).toBeUndefined();
    expect(parseWorkersFlag('auto')).toBe('auto');
    expect(parseWorkersFlag('1')).toBe(1);
    expect(parseWorkersFlag('3')).toBe(3);
    expect(parseWorkersFlag('1024')).toBe(1024);
  });

  it.each(['0', '-1', '1.5', 'x', '', '1025', ' 2', 'AUTO', '2e1'])('refuses %j with HX_ERR_USAGE (exit 64) naming the value and the accepted forms', (flag) => {
    let error: unknown;
    try {
      parseWorkersFlag(flag);
    } catch (e) {
      error = e;
    }
    expect(isHendrixError(error) && error.code).toBe('HX_ERR_USAGE');
    if (!isHendrixError(error)) return;
    expect(error.exitCode).toBe(64);
    expect(error.message).toContain(`\`${flag}\``);
    expect(error.message).toContain('auto');
    expect(error.hint).toContain('--workers');
  });
});

describe('workerCount', () => {
  it('the flag overrides the manifest; `auto` is one per core, at least 1', () => {
    expect(workerCount({ workers: 2 }, undefined)).toBe(2);
    expect(workerCount({ workers: 2 }, 3)).toBe(3);
    expect(workerCount({ workers: 4 }, 1)).toBe(1);
    expect(workerCount({ workers: 'auto' }, undefined, () => 6)).toBe(6);
    expect(workerCount({ workers: 1 }, 'auto', () => 2)).toBe(2);
    expect(workerCount({ workers: 'auto' }, undefined, () => 0)).toBe(1);
  });
});
