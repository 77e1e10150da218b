import { describe, expect, it } from 'vitest';
import { HendrixError, formatPath } from '../errors/hendrix-error.js';
import { resolveManifest } from '../manifest/resolve.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { crosstownSchema, defaultCrosstownConfig } from './config.js';
import { testKinds } from '../../test/helpers/kinds.js';

const makeDir = useManifestDirs();

async function manifestErrors(crosstown: string): Promise<{ path: string; line: number | undefined; message: string }[]> {
  const dir = makeDir({ 'hendrix.yaml': `services:\n  web:\n    kind: http\n    crosstown:\n${crosstown}` });
  const error = await resolveManifest({ kinds: testKinds, cwd: dir, environment: {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HendrixError);
  return (error as HendrixError).errors.map((e) => ({ path: formatPath(e.path ?? []), line: e.location?.line, message: e.message }));
}

describe('the crosstown section of an http service', () => {
  it('defaults: no pools sizes (cores), a queue of 1000, no task timeout, a 30 s drain, no journal, skip 4xx/5xx', async () => {
    expect(defaultCrosstownConfig()).toEqual({ maxQueue: 1000, taskTimeout: 0, drainTimeout: 30_000, journal: false, skipStatus: ['4xx', '5xx'], runOnAbort: false });
    const dir = makeDir({ 'hendrix.yaml': 'services:\n  web:\n    kind: http\n' });
    const { manifest } = await resolveManifest({ kinds: testKinds, cwd: dir, environment: {} });
    expect((manifest.services.web as unknown as { crosstown: unknown }).crosstown).toEqual(defaultCrosstownConfig());
  });

  it('reads durations, numbers from variables, and every skipStatus form', () => {
    const config = crosstownSchema.parse({
      threads: '4',
      processes: 2,
      maxQueue: 0,
      taskTimeout: '1m30s',
      drainTimeout: '5s',
      journal: './var/crosstown',
      skipStatus: [404, '400-405', '5xx', '301'],
      runOnAbort: 'true',
    });
    expect(config).toEqual({
      threads: 4,
      processes: 2,
      maxQueue: 0,
      taskTimeout: 90_000,
      drainTimeout: 5_000,
      journal: './var/crosstown',
      skipStatus: [404, '400-405', '5xx', '301'],
      runOnAbort: true,
    });
  });

  it('reports bad skipStatus entries with their path and line, and every other bad field', async () => {
    const errors = await manifestErrors(
      ['      threads: 0', '      skipStatus: [404, "4xy", "405-400", 700, "2xx"]', '      journal: true', '      drainTmeout: 5s', ''].join('\n'),
    );
    const byPath = Object.fromEntries(errors.map((e) => [e.path, e]));
    expect(byPath['services.web.crosstown.skipStatus[1]']).toMatchObject({ line: 6, message: expect.stringContaining('expected a status code such as 404, a range such as "400-405", or a class such as "5xx"') });
    expect(byPath['services.web.crosstown.skipStatus[2]']?.message).toContain('the range "405-400" ends before it starts; write "400-405"');
    expect(byPath['services.web.crosstown.skipStatus[3]']).toBeDefined();
    expect(byPath['services.web.crosstown.skipStatus[0]']).toBeUndefined();
    expect(byPath['services.web.crosstown.skipStatus[4]']).toBeUndefined();
    expect(byPath['services.web.crosstown.threads']).toMatchObject({ line: 5 });
    expect(byPath['services.web.crosstown.journal']).toBeDefined();
    expect(byPath['services.web.crosstown.drainTmeout']?.message).toMatch(/drainTimeout/);
  });
});
