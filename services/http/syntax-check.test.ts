import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { findSyntaxError } from './syntax-check.js';
import { parseLocationHeader } from './import-failure.js';

const makeDir = useManifestDirs();
let lexer: typeof import('es-module-lexer');

beforeAll(async () => {
  lexer = await import('es-module-lexer');
  await lexer.init;
});

/** What `node --check` says about a file: line, column and message (the oracle). */
function nodeCheck(file: string): { line: number; column: number; message: string } | undefined {
  try {
    execFileSync(process.execPath, ['--check', file], { stdio: 'pipe', encoding: 'utf8' });
    return undefined;
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr);
    const location = parseLocationHeader(stderr);
    return location && { line: location.line, column: location.column, message: /^SyntaxError: (.*)$/m.exec(stderr)![1]! };
  }
}

const VALID_MODULE = [
  "import fs from 'node:fs';",
  "import { a,\n  b as c } from './x.mjs';",
  "import * as ns from './y.mjs';",
  "import './side.mjs';",
  "import data from './d.json' with { type: 'json' };",
  "export * from './z.mjs';",
  "export * as all from './z.mjs';",
  "export { a as default2, b } from './x.mjs';",
  'const url = import.meta.url;',
  'const config = await import(url);',
  'export const one = 1, two = 2;',
  'export let three = 3;',
  'export function f() { return one; }',
  'export async function g() { await 0; }',
  'export class K {}',
  'export { url, config as cfg };',
  'await Promise.resolve();',
  'export default function (req, res) { res.end(); }',
  '',
].join('\n');

describe('findSyntaxError', () => {
  it('finds nothing in a valid module using every form of module syntax, nor in valid CommonJS', async () => {
    const dir = makeDir({
      'ok.mjs': VALID_MODULE,
      'arrow.mjs': 'export default (req, res) => res.end();\n',
      'object.mjs': 'export default { fetch() { return new Response(); } };\n',
      'class.mjs': 'export default class {}\n',
      'split.mjs': 'export\ndefault\nasync function () {}\n',
      'ok.cjs': "'use strict';\nconst x = require('./x');\nmodule.exports = function (req, res) { return x; };\nreturn;\n",
      'hashbang.mjs': '#!/usr/bin/env node\nexport default {};\n',
    });
    for (const file of ['ok.mjs', 'arrow.mjs', 'object.mjs', 'class.mjs', 'split.mjs', 'ok.cjs', 'hashbang.mjs']) {
      expect(await findSyntaxError(join(dir, file), lexer), file).toBeUndefined();
    }
  });

  it.each([
    ['token.mjs', "import a from './a.mjs';\n\nexport default function (req, res) {\n  let x = ;\n}\n"],
    ['first-line.mjs', 'let x = ;\n'],
    ['tab.mjs', 'export default function () {\n\tlet x = ;\n}\n'],
    ['end-of-input.mjs', "import { a } from './a.mjs';\nexport function f() {\n  if (a) {\n    return 1;\n}\n"],
    ['stray-brace.mjs', "import a from './a.mjs';\nconst b = 1;\n}\nexport default b;\n"],
    ['unterminated.mjs', "import a from './a.mjs';\nconst s = 'abc;\nexport default s;\n"],
    ['template.mjs', 'export const t = `abc ${ 1 + };\n'],
    ['await-then-error.mjs', "const db = await import('./db.mjs');\nexport default db.handler(;\n"],
    ['meta.mjs', 'const here = import.meta.url;\nexport const x = here +;\n'],
    ['strict.mjs', 'export default function () {\n  with (Math) { return PI; }\n}\n'],
    ['bad.cjs', "const x = require('./x');\nfunction f( {\n}\nmodule.exports = f;\n"],
    ['hashbang-bad.mjs', '#!/usr/bin/env node\nexport default { a: 1 b: 2 };\n'],
  ])('places %s where node --check does, with its message', async (name, source) => {
    const dir = makeDir({ [name]: source });
    const file = join(dir, name);
    const expected = nodeCheck(file);
    expect(expected, 'the oracle finds an error').toBeDefined();
    const found = await findSyntaxError(file, lexer);
    expect(found && { line: found.location.line, column: found.location.column, message: found.message }).toEqual(expected);
    expect(found?.location.file).toBe(file);
  });
});
