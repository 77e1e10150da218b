import { expect } from 'vitest';
import { isHendrixError, type HendrixError } from '../../src/errors/hendrix-error.js';
import { createPlan, type Plan } from '../../src/runtime/plan.js';
import { testKinds } from './kinds.js';

/** What a provision test may change about the plan: `importModules` (false: `check --no-import`). */
export interface PlanCheckOptions {
  importModules?: boolean;
}

/** Plans `hendrix.yaml` in `dir` with the built-in kinds and an empty environment, as `hendrix check` does. */
export function planIn(dir: string, options: PlanCheckOptions = {}): Promise<Plan> {
  return createPlan(['hendrix.yaml'], { kinds: testKinds, cwd: dir, environment: {}, importModules: options.importModules });
}

/** Plans `hendrix.yaml` in `dir`, which must fail with HX_ERR_MANIFEST; returns every problem, sorted by file:line:col. */
export async function planProblems(dir: string, options: PlanCheckOptions = {}): Promise<HendrixError[]> {
  const error = await planIn(dir, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isHendrixError(error), 'the plan was meant to fail').toBe(true);
  expect((error as HendrixError).code).toBe('HX_ERR_MANIFEST');
  return [...(error as HendrixError).errors];
}

/**
 * The 1-based line and column where `needle` is written in `text` (its `nth` occurrence), for
 * checking that an error points at the value in the manifest.
 */
export function positionOf(text: string, needle: string, nth = 1): { line: number; column: number } {
  let index = -1;
  for (let i = 0; i < nth; i++) {
    index = text.indexOf(needle, index + 1);
    if (index < 0) throw new Error(`${JSON.stringify(needle)} (occurrence ${nth}) is not in the manifest`);
  }
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return { line, column: index - before.lastIndexOf('\n') };
}

/** The problem with `code` at the manifest `path` (its segments: ['services', 'web', 'listen']), or undefined. */
export function problemAt(problems: readonly HendrixError[], code: string, path: readonly (string | number)[]): HendrixError | undefined {
  return problems.find((p) => p.code === code && JSON.stringify(p.path) === JSON.stringify(path));
}
