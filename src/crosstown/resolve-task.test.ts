import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HendrixError } from '../errors/hendrix-error.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { callerFile, parseTaskRef, resolveTask } from './resolve-task.js';

const makeDir = useManifestDirs();
const here = fileURLToPath(import.meta.url);

function failure(fn: () => unknown): HendrixError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HendrixError);
    return error as HendrixError;
  }
  throw new Error('expected a throw');
}

describe('task references', () => {
  it('split module and export; the default export otherwise', () => {
    expect(parseTaskRef('./tasks.mjs#resize')).toEqual({ specifier: './tasks.mjs', exportName: 'resize' });
    expect(parseTaskRef('./tasks.mjs')).toEqual({ specifier: './tasks.mjs', exportName: 'default' });
    expect(parseTaskRef('./tasks.mjs#')).toEqual({ specifier: './tasks.mjs#', exportName: 'default' });
    expect(parseTaskRef('#internal/tasks')).toEqual({ specifier: '#internal/tasks', exportName: 'default' });
    expect(parseTaskRef('pkg/a#b#c')).toEqual({ specifier: 'pkg/a#b', exportName: 'c' });
  });

  it('resolve against the calling module first, then the manifest folder', () => {
    const caller = makeDir({ 'lib/handler.mjs': '', 'lib/tasks.mjs': '' });
    const manifest = makeDir({ 'jobs.mjs': '', 'lib/tasks.mjs': '' });
    expect(resolveTask('./tasks.mjs#resize', join(caller, 'lib/handler.mjs'), manifest)).toEqual({
      file: join(caller, 'lib/tasks.mjs'),
      exportName: 'resize',
      name: 'tasks.mjs#resize',
    });
    expect(resolveTask('./jobs.mjs', join(caller, 'lib/handler.mjs'), manifest)).toMatchObject({ file: join(manifest, 'jobs.mjs'), name: 'jobs.mjs#default' });
    expect(resolveTask('./lib/tasks.mjs#x', undefined, manifest).file).toBe(join(manifest, 'lib/tasks.mjs'));
  });

  it('take absolute paths, file: URLs and package names', () => {
    const dir = makeDir({ 'a.mjs': '' });
    expect(resolveTask(`${join(dir, 'a.mjs')}#run`, undefined, '/').file).toBe(join(dir, 'a.mjs'));
    expect(resolveTask(`${pathToFileURL(join(dir, 'a.mjs')).href}#run`, undefined, '/').file).toBe(join(dir, 'a.mjs'));
    expect(resolveTask('yaml#parse', here, '/').file).toMatch(/node_modules\/yaml\//);
  });

  it('name every path tried when the module is not there', () => {
    const caller = makeDir({ 'handler.mjs': '' });
    const manifest = makeDir({});
    const error = failure(() => resolveTask('./nope.mjs#run', join(caller, 'handler.mjs'), manifest));
    expect(error.code).toBe('HX_ERR_CROSSTOWN_BAD_TASK');
    expect(error.message).toBe(`crosstown task module not found: ./nope.mjs (tried ${join(caller, 'nope.mjs')}, ${join(manifest, 'nope.mjs')})`);
    expect(failure(() => resolveTask('/no/such/file.mjs', undefined, manifest)).message).toBe('crosstown task module not found: /no/such/file.mjs');
    expect(failure(() => resolveTask('no-such-package-x#run', undefined, manifest)).message).toBe(`crosstown task module not found: package no-such-package-x (resolved from ${manifest})`);
    expect(failure(() => resolveTask('', undefined, manifest)).message).toMatch(/written 'module#export', got an empty string/);
    expect(failure(() => resolveTask(42 as unknown as string, undefined, manifest)).message).toMatch(/got number/);
  });
});

describe('callerFile', () => {
  function api(): string | undefined {
    return callerFile(api, undefined);
  }
  function viaHelper(): string | undefined {
    return helper();
  }
  function helper(): string | undefined {
    return callerFile(viaHelper, here);
  }

  it('is the file of the frame below the API function', () => {
    expect(api()).toBe(here);
  });

  it('skips the frames of the API module itself', () => {
    // every frame in this file is "own": the caller is whatever called this test
    expect(viaHelper()).not.toBe(here);
  });

  it('restores the stack machinery it borrows', () => {
    const prepare = Error.prepareStackTrace;
    const limit = Error.stackTraceLimit;
    api();
    expect([Error.prepareStackTrace, Error.stackTraceLimit]).toEqual([prepare, limit]);
  });
});
