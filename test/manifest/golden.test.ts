import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHendrixError } from '../../src/errors/hendrix-error.js';
import { renderError, renderErrorsJson } from '../../src/errors/render.js';
import { createPlan } from '../../src/runtime/plan.js';
import { BROKEN_ROOT, brokenCases, brokenPlanArgs } from '../helpers/broken-fixtures.js';

/**
 * Golden files for rendered manifest errors: every folder under test/fixtures/broken holds a
 * broken manifest (with optional overlay, .env and case.json) and the expected rendering.
 * `UPDATE_GOLDEN=1 npx vitest run test/manifest/golden.test.ts` rewrites the goldens.
 */
const root = BROKEN_ROOT;
const update = process.env.UPDATE_GOLDEN === '1';

const cases = brokenCases();

async function render(dir: string): Promise<{ text: string; json: unknown }> {
  const { files, options } = brokenPlanArgs(dir);
  try {
    await createPlan(files, options);
  } catch (error) {
    if (!isHendrixError(error)) throw error;
    // absolute paths (in kind-module messages) are machine-dependent
    const text = renderError(error, { color: false }).split(dir).join('<fixture>');
    return { text: `${text}\n`, json: renderErrorsJson(error) };
  }
  throw new Error(`${dir}: the manifest resolved, but it is meant to be broken`);
}

describe('golden: rendered manifest errors', () => {
  it('has at least 25 broken fixtures', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  for (const name of cases) {
    it(name, async () => {
      const dir = join(root, name);
      const { text, json } = await render(dir);
      const golden = join(dir, 'expected.txt');
      if (update) writeFileSync(golden, text);
      expect(existsSync(golden), `${name}/expected.txt is missing; run with UPDATE_GOLDEN=1`).toBe(true);
      expect(text).toBe(readFileSync(golden, 'utf8'));
      // the JSON form carries the same problems, each with a code and a message
      expect(Array.isArray(json) && json.length > 0).toBe(true);
      expect(text).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/); // never a stack trace
    });
  }
});
