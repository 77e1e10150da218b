import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHendrixError } from '../../src/errors/hendrix-error.js';
import { renderErrorsJson } from '../../src/errors/render.js';
import { createPlan } from '../../src/runtime/plan.js';
import { BROKEN_ROOT, brokenCases, brokenPlanArgs } from '../helpers/broken-fixtures.js';

/**
 * Golden files for `--format json` diagnostics: every folder under test/fixtures/broken that
 * holds an expected.json is planned like golden.test.ts does, and its problems as JSON (code,
 * file:line:col, path, related) must match. To add one, create an empty expected.json and run
 * `UPDATE_GOLDEN=1 npx vitest run test/manifest/golden-json.test.ts`; read what it wrote.
 */
const root = BROKEN_ROOT;
const update = process.env.UPDATE_GOLDEN === '1';

const cases = brokenCases('expected.json');

async function renderJson(dir: string): Promise<string> {
  const { files, options } = brokenPlanArgs(dir);
  try {
    await createPlan(files, options);
  } catch (error) {
    if (!isHendrixError(error)) throw error;
    // absolute paths (in messages) are machine-dependent
    return `${JSON.stringify(renderErrorsJson(error), null, 2).split(dir).join('<fixture>')}\n`;
  }
  throw new Error(`${dir}: the manifest resolved, but it is meant to be broken`);
}

describe('golden: manifest errors as JSON', () => {
  it('has fixtures with an expected.json', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  for (const name of cases) {
    it(name, async () => {
      const dir = join(root, name);
      const json = await renderJson(dir);
      const golden = join(dir, 'expected.json');
      if (update) writeFileSync(golden, json);
      expect(json).toBe(readFileSync(golden, 'utf8'));
      const problems = JSON.parse(json) as { code: string; file: string | null; line: number | null }[];
      expect(problems.every((p) => /^HX_ERR_[A-Z0-9_]+$/.test(p.code) && p.file !== null && p.line !== null)).toBe(true);
    });
  }
});
