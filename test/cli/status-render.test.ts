import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ServiceStatus, StatusJson, WorkerStatus } from '../../src/admin/types.js';
import { formatAgo, renderStatus, whyOf } from '../../src/cli/status-render.js';
import { renderTable, textWidth } from '../../src/cli/table.js';

/**
 * Golden files for `hendrix status`: each case renders a StatusJson at a fixed time and width
 * and compares it with test/cli/golden/status-<case>.txt.
 * `UPDATE_GOLDEN=1 npx vitest run test/cli/status-render.test.ts` rewrites the goldens.
 */
const GOLDEN = fileURLToPath(new URL('./golden/', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';
const NOW = Date.parse('2025-03-01T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function service(name: string, kind: string, extra: Partial<ServiceStatus> = {}): ServiceStatus {
  return { name, kind, state: 'ready', since: ago(754_000), restarts: 0, dependsOn: [], dependents: [], figures: {}, ...extra };
}

function status(services: ServiceStatus[], extra: { workers?: WorkerStatus[]; env?: string; draining?: boolean; state?: string } = {}): StatusJson {
  return {
    instance: {
      version: '0.1.0',
      pid: 48213,
      startedAt: ago(8_000_000),
      uptimeSeconds: 8000,
      files: ['/srv/app/hendrix.yaml'],
      ...(extra.env ? { env: extra.env } : {}),
      fingerprint: '3f2a9c1b7d4e5f60718293a4b5c6d7e8',
      state: extra.state ?? 'running',
      draining: extra.draining ?? false,
      control: '/run/user/1000/hendrix/0123456789abcdef.sock',
      rss: 61_400_000,
      ...(extra.workers ? { workers: extra.workers } : {}),
    },
    services,
    edges: [],
    lastEventId: 42,
  };
}

const HEALTHY = status([
  service('web', 'http', { address: 'http://127.0.0.1:8000', since: ago(12_000) }),
  service('secure', 'tls', { address: 'https://0.0.0.0:8443', dependsOn: ['web'] }),
  service('hub', 'pubsub', { address: 'ws://127.0.0.1:8000/hub', since: ago(3 * 60_000 + 5_000) }),
  service('bot', 'irc', { since: ago(2 * 3600_000 + 60_000) }),
  service('beacon', 'raw', { since: ago(3 * 86_400_000) }),
]);

const CRASH = { code: 'HX_ERR_APP_CRASH', message: 'the app threw: TypeError: Cannot read properties of undefined (reading \'id\')', at: 'hendrix.yaml:7:3', path: 'services.web' };

const RESTARTING = status([
  service('web', 'http', { state: 'restarting', since: ago(1_200), restarts: 3, lastError: CRASH, nextRestartAt: new Date(NOW + 3_400).toISOString(), address: 'http://127.0.0.1:8000' }),
  service('secure', 'tls', { state: 'stopped', why: 'waiting for web', address: 'https://0.0.0.0:8443' }),
  service('bot', 'irc', { state: 'starting', since: ago(40_000), waiting: 'connecting to irc.example.net:6697… (ECONNREFUSED)' }),
]);

const FAILED = status([
  service('db-proxy', 'raw', { since: ago(90_000) }),
  service('web', 'http', {
    state: 'failed',
    since: ago(65_000),
    restarts: 5,
    lastError: { code: 'HX_ERR_RESTART_LIMIT', message: 'web failed 5 times in 60 s and is not restarted again', at: 'hendrix.yaml:12:5', path: 'services.web.restart.limit' },
  }),
  service('api', 'http', { state: 'stopped', why: 'stopped by hendrix stop api', since: ago(30_000), address: 'http://127.0.0.1:9000' }),
  service('jobs', './kinds/job-runner.mjs', { since: ago(90_000) }),
  service('cache', 'http', { restarts: 1, address: 'http://127.0.0.1:9100', lastError: { code: 'HX_ERR_APP_CRASH', message: 'ECONNRESET', at: 'hendrix.yaml:20:3' } }),
]);

const WORKER = (id: string, pid: number | undefined, state: string, rss: number | undefined, requests: number, restarts = 0): WorkerStatus => ({
  id, role: id === 'once' ? 'once' : 'each', pid, state, since: ago(60_000), restarts, rss, cpuSeconds: 1.5, requests,
});

const WORKERS = status(
  [
    service('web', 'http', { address: 'http://0.0.0.0:8000', placement: 'each' }),
    service('hub', 'pubsub', { address: 'ws://0.0.0.0:8000/hub', placement: 'each' }),
    service('bot', 'irc', { placement: 'once' }),
  ],
  {
    env: 'production',
    workers: [WORKER('1', 48220, 'ready', 48_200_000, 120_345), WORKER('2', 48221, 'ready', 51_900_000, 119_876, 1), WORKER('once', 48222, 'ready', 39_000_000, 0), WORKER('3', undefined, 'restarting', undefined, 0, 2)],
  },
);

const NARROW = status(
  [
    service('payments-webhook-receiver', 'http', {
      state: 'failed',
      restarts: 2,
      address: 'http://[2001:db8:85a3::8a2e:370:7334]:18443',
      lastError: { code: 'HX_ERR_START_TIMEOUT', message: 'payments-webhook-receiver did not become ready within 30 s: still waiting for the database connection pool at postgres://db.internal:5432 to accept a connection', at: 'hendrix.production.yaml:41:7' },
    }),
    service('hub', 'pubsub', { state: 'stopping', since: ago(2_000), why: 'draining 1204 WebSocket connections (close 1001) before the deadline in 8 s' }),
  ],
  { draining: true, state: 'stopping', env: 'production' },
);

const CASES: Record<string, { status: StatusJson; width: number; color?: boolean }> = {
  healthy: { status: HEALTHY, width: 100 },
  'healthy-color': { status: HEALTHY, width: 100, color: true },
  restarting: { status: RESTARTING, width: 120 },
  failed: { status: FAILED, width: 120 },
  workers: { status: WORKERS, width: 100 },
  'narrow-80': { status: NARROW, width: 80 },
};

describe('golden: hendrix status rendering', () => {
  for (const [name, { status: value, width, color }] of Object.entries(CASES)) {
    it(name, () => {
      const text = renderStatus(value, NOW, { color: color ?? false, width });
      const golden = join(GOLDEN, `status-${name}.txt`);
      if (update) writeFileSync(golden, text);
      expect(existsSync(golden), `golden/status-${name}.txt is missing; run with UPDATE_GOLDEN=1`).toBe(true);
      expect(text).toBe(readFileSync(golden, 'utf8'));
      // eslint-disable-next-line no-control-regex
      const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
      for (const line of plain.split('\n')) expect(textWidth(line), line).toBeLessThanOrEqual(width);
      expect(plain).not.toMatch(/ \n/); // no trailing spaces
      if (!color) expect(text).not.toContain('\x1b');
    });
  }

  it('is a pure function: the same input gives the same text', () => {
    expect(renderStatus(FAILED, NOW, { color: true, width: 80 })).toBe(renderStatus(FAILED, NOW, { color: true, width: 80 }));
  });

  it('keeps 80 columns whatever the content, cutting with … and giving WHY what is left', () => {
    const text = renderStatus(NARROW, NOW, { color: false, width: 80 });
    for (const line of text.split('\n')) expect(textWidth(line)).toBeLessThanOrEqual(80);
    expect(text).toContain('…');
    expect(text).toContain('HX_ERR_START_TIMEOUT at hendrix.production.yaml:41:7');
  });

  it('colours the state only on request, as the live view does', () => {
    const text = renderStatus(RESTARTING, NOW, { color: true, width: 120 });
    expect(text).toContain('\x1b[35mrestarting\x1b[0m');
    expect(text).toContain('\x1b[33mstarting\x1b[0m');
  });
});

describe('status pieces', () => {
  it('formats relative times by their largest unit', () => {
    expect([0, 999, 12_000, 59_999, 60_000, 3 * 60_000, 3_599_000, 2 * 3_600_000, 47 * 3_600_000, 49 * 3_600_000, -5_000].map(formatAgo)).toEqual(['0s', '0s', '12s', '59s', '1m', '3m', '59m', '2h', '47h', '2d', '0s']);
  });

  it('says why: waiting reason, next restart with the error, failure with its place, last error of a recovered service', () => {
    expect(whyOf(RESTARTING.services[0]!, NOW)).toBe(`next restart in 4s · HX_ERR_APP_CRASH at hendrix.yaml:7:3: ${CRASH.message}`);
    expect(whyOf(RESTARTING.services[2]!, NOW)).toBe('connecting to irc.example.net:6697… (ECONNREFUSED)');
    expect(whyOf(FAILED.services[1]!, NOW)).toMatch(/^HX_ERR_RESTART_LIMIT at hendrix\.yaml:12:5: /);
    expect(whyOf(FAILED.services[4]!, NOW)).toBe('last: HX_ERR_APP_CRASH at hendrix.yaml:20:3: ECONNRESET');
    expect(whyOf(HEALTHY.services[0]!, NOW)).toBe('');
  });

  it('a table drops an optional column with nothing in it and never pads the end of a line', () => {
    const lines = renderTable([{ header: 'A', cells: ['x', 'yy'] }, { header: 'B', cells: ['', ''], optional: true }], 80);
    expect(lines).toEqual(['A', 'x', 'yy']);
  });
});
