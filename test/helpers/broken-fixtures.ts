import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlanOptions } from '../../src/runtime/plan.js';
import { testKinds } from './kinds.js';

/** The folder of the broken manifests: one folder a case, with its goldens. */
export const BROKEN_ROOT = fileURLToPath(new URL('../fixtures/broken/', import.meta.url));

/** What a case's optional case.json says: the environment name, --set flags, files, variables. */
export interface BrokenCase {
  env?: string;
  set?: string[];
  files?: string[];
  environment?: Record<string, string>;
}

/** The names of the cases (folders), sorted; only those holding `file` when given. */
export function brokenCases(file?: string): string[] {
  return readdirSync(BROKEN_ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory() && (file === undefined || existsSync(join(BROKEN_ROOT, d.name, file))))
    .map((d) => d.name)
    .sort();
}

/** A case's case.json (or nothing). */
export function brokenCase(dir: string): BrokenCase {
  return existsSync(join(dir, 'case.json')) ? (JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as BrokenCase) : {};
}

/** The manifest files and plan options of the case in `dir`, as the CLI would build them. */
export function brokenPlanArgs(dir: string): { files: string[]; options: PlanOptions } {
  const spec = brokenCase(dir);
  return {
    files: spec.files ?? ['hendrix.yaml'],
    options: { kinds: testKinds, cwd: dir, env: spec.env, set: spec.set ?? [], environment: spec.environment ?? {} },
  };
}
