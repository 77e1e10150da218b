import { describe, expect, it } from 'vitest';
import { createStatusFilter, DEFAULT_SKIP_STATUS, parseStatusPattern, statusFilterFor } from './status-filter.js';

const skipped = (patterns: readonly (number | string)[], statuses: number[]): number[] => {
  const filter = createStatusFilter(patterns);
  return statuses.filter((s) => filter.skips(s));
};

describe('status patterns', () => {
  it('parses exact codes, ranges and classes into inclusive ranges', () => {
    expect(parseStatusPattern(404)).toEqual([404, 404]);
    expect(parseStatusPattern('404')).toEqual([404, 404]);
    expect(parseStatusPattern('400-405')).toEqual([400, 405]);
    expect(parseStatusPattern('5xx')).toEqual([500, 599]);
    expect(parseStatusPattern('3XX')).toEqual([300, 399]);
    expect(parseStatusPattern(' 418 ')).toEqual([418, 418]);
  });

  it('says what is wrong with a bad pattern', () => {
    expect(parseStatusPattern('4xy')).toMatch(/"4xy" is not a status pattern; expected a status code such as 404/);
    expect(parseStatusPattern(700)).toBe('700 is not a status code (100-599)');
    expect(parseStatusPattern(40.5)).toMatch(/not a status code/);
    expect(parseStatusPattern('405-400')).toBe('the range "405-400" ends before it starts; write "400-405"');
    expect(parseStatusPattern('400 - 405')).toMatch(/not a status pattern/);
    expect(parseStatusPattern('6xx')).toMatch(/not a status pattern/);
    expect(parseStatusPattern('')).toMatch(/not a status pattern/);
  });

  it('skips client and server errors by default, nothing else', () => {
    expect(skipped(DEFAULT_SKIP_STATUS, [100, 200, 204, 301, 304, 399, 400, 404, 451, 499, 500, 503, 599])).toEqual([400, 404, 451, 499, 500, 503, 599]);
  });

  it('combines codes, ranges and classes; an empty list skips nothing', () => {
    expect(skipped([404, '500-502', '3xx'], [200, 302, 399, 403, 404, 405, 499, 500, 501, 502, 503])).toEqual([302, 399, 404, 500, 501, 502]);
    expect(skipped([], [200, 404, 500])).toEqual([]);
    expect(skipped(['200-200'], [199, 200, 201])).toEqual([200]);
  });

  it('never skips statuses outside 100-599', () => {
    const filter = createStatusFilter(['1xx', '5xx']);
    expect([filter.skips(0), filter.skips(-1), filter.skips(600), filter.skips(99999)]).toEqual([false, false, false, false]);
  });

  it('throws a TypeError naming the bad pattern', () => {
    expect(() => createStatusFilter([404, 'nope'])).toThrow(new TypeError('skipStatus: "nope" is not a status pattern; expected a status code such as 404, a range such as "400-405", or a class such as "5xx"'));
  });

  it('compiles each distinct per-call list once', () => {
    expect(statusFilterFor([404, '5xx'])).toBe(statusFilterFor([404, '5xx']));
    expect(statusFilterFor([404])).not.toBe(statusFilterFor(['404']));
    expect(statusFilterFor([404]).patterns).toEqual([404]);
  });
});
