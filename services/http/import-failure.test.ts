import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { locateImportFailure } from './import-failure.js';

const makeDir = useManifestDirs();

/**
 * The error Node itself gives for `import(file)`, rebuilt from a child node process: in this
 * process the test runner's loader, not Node's, would import the file.
 */
function nodeImportError(file: string): Error {
  const script = `import(${JSON.stringify(pathToFileURL(file).href)}).then(() => process.stdout.write('{}'), (e) => process.stdout.write(JSON.stringify({ name: e.name, message: e.message, stack: e.stack, code: e.code })))`;
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as { name?: string; message: string; stack: string; code?: string };
  expect(out.name, 'node failed to import it').toBeDefined();
  const error = new Error(out.message);
  return Object.assign(error, { name: out.name, stack: out.stack }, out.code ? { code: out.code } : {});
}

describe("locateImportFailure, on Node's own errors", () => {
  const dir = makeDir({
    'link.mjs': "import { nope } from './dep.mjs';\nexport default nope;\n",
    'dep.mjs': 'export const yes = 1;\n',
    'app.cjs': "const lib = require('./lib.cjs');\nmodule.exports = lib;\n",
    'lib.cjs': 'module.exports = {\n  a: 1\n  b: 2,\n};\n',
    'throws.mjs': "import './dep.mjs';\n\nconst port = Number('x');\nif (Number.isNaN(port)) throw new RangeError('PORT is not a number');\n",
    'syntax.mjs': "import { yes } from './dep.mjs';\nexport default function () {\n  return yes +;\n}\n",
    'missing.mjs': "import './nowhere.mjs';\n",
  });
  const files = (...names: string[]) => names.map((n) => join(dir, n));

  it('an import of a name the module does not export: the location Node writes on top', async () => {
    const failure = await locateImportFailure(nodeImportError(join(dir, 'link.mjs')), files('link.mjs', 'dep.mjs'), dir);
    expect(failure).toEqual({
      kind: 'link',
      location: { file: join(dir, 'link.mjs'), line: 1, column: 10, endLine: 1, endColumn: 14 },
      message: "The requested module './dep.mjs' does not provide an export named 'nope'",
    });
  });

  it('a CommonJS syntax error in a required file: its location from the stack', async () => {
    const failure = await locateImportFailure(nodeImportError(join(dir, 'app.cjs')), files('app.cjs', 'lib.cjs'), dir);
    expect(failure).toEqual({ kind: 'syntax', location: { file: join(dir, 'lib.cjs'), line: 3, column: 3, endLine: 3, endColumn: 4 }, message: "Unexpected identifier 'b'" });
  });

  it('a throw: the first frame in a project module', async () => {
    const failure = await locateImportFailure(nodeImportError(join(dir, 'throws.mjs')), files('throws.mjs', 'dep.mjs'), dir);
    expect(failure).toEqual({ kind: 'throw', location: { file: join(dir, 'throws.mjs'), line: 4, column: 31 }, message: 'PORT is not a number' });
  });

  it('an ES module syntax error, which carries no location: found by parsing the project modules', async () => {
    const error = nodeImportError(join(dir, 'syntax.mjs'));
    expect(error.stack).not.toContain('syntax.mjs');
    const failure = await locateImportFailure(error, files('syntax.mjs', 'dep.mjs'), dir);
    expect(failure).toEqual({ kind: 'syntax', location: { file: join(dir, 'syntax.mjs'), line: 3, column: 15, endLine: 3, endColumn: 16 }, message: "Unexpected token ';'" });
  });

  it('a Node system error (a missing module) is not placed', async () => {
    const error = nodeImportError(join(dir, 'missing.mjs'));
    expect((error as { code?: string }).code).toBe('ERR_MODULE_NOT_FOUND');
    expect(await locateImportFailure(error, files('missing.mjs'), dir)).toBeUndefined();
  });
});
