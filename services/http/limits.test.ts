import { describe, expect, it } from 'vitest';
import { checkingInterval, httpLimits } from './limits.js';
import { httpSchema } from './schema.js';

describe('httpLimits', () => {
  it('the defaults (60 s headers, 300 s request) are checked every second, not every 30 s', () => {
    const limits = httpLimits(httpSchema.parse({}));
    expect(limits).toEqual({ headersTimeout: 60_000, requestTimeout: 300_000, keepAliveTimeout: 5_000, maxHeaderSize: 16_384, connectionsCheckingInterval: 1_000 });
  });

  it('short limits are checked at a quarter of the shortest, never more often than every 50 ms', () => {
    expect(checkingInterval(2_000, 300_000)).toBe(500);
    expect(checkingInterval(60_000, 1_001)).toBe(250);
    expect(checkingInterval(100, 0)).toBe(50);
    expect(Number.isInteger(checkingInterval(2_001, 0))).toBe(true);
  });

  it('no limit at all: Node\'s default interval, and headersTimeout never above requestTimeout', () => {
    expect(checkingInterval(0, 0)).toBe(30_000);
    expect(httpLimits({ headersTimeout: 60_000, requestTimeout: 10_000, keepAliveTimeout: 1, maxHeaderSize: 1 }).headersTimeout).toBe(10_000);
    expect(httpLimits({ headersTimeout: 60_000, requestTimeout: 0, keepAliveTimeout: 1, maxHeaderSize: 1 }).headersTimeout).toBe(60_000);
  });
});
