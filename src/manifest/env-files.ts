import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { HendrixError } from '../errors/hendrix-error.js';

/** Where the variables for `${VAR}` come from. */
export interface VariableSources {
  /** The folder of the base manifest; `.env` and `.env.<env>` are read from it. */
  readonly baseDir: string;
  /** The environment name: adds `.env.<env>` over `.env`. */
  readonly env?: string | undefined;
  /** The process environment, which wins over both files. */
  readonly environment: Readonly<Record<string, string | undefined>>;
  /** How to show a file in messages (relative to the working directory); default its name. */
  readonly display?: (absPath: string) => string;
}

/** The variables for interpolation, lowest precedence first, and any file that could not be read. */
export interface LoadedVariables {
  readonly variables: Record<string, string>;
  /** The env files that were read, lowest precedence first. */
  readonly files: readonly string[];
  readonly errors: HendrixError[];
}

/**
 * Collects the variables for interpolation: `.env` beside the base manifest, then
 * `.env.<env>`, then the process environment (highest). Missing files are fine; unreadable
 * ones are HX_ERR_ENV_FILE.
 */
export async function loadVariables(sources: VariableSources): Promise<LoadedVariables> {
  const names = ['.env', ...(sources.env ? [`.env.${sources.env}`] : [])];
  const variables: Record<string, string> = {};
  const files: string[] = [];
  const errors: HendrixError[] = [];
  for (const name of names) {
    const abs = join(sources.baseDir, name);
    const shown = sources.display?.(abs) ?? name;
    let text: string;
    try {
      text = await readFile(abs, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') continue;
      errors.push(new HendrixError('HX_ERR_ENV_FILE', { message: `cannot read ${shown}: ${(cause as Error).message}`, cause }));
      continue;
    }
    files.push(shown);
    Object.assign(variables, parseEnv(text));
  }
  for (const [k, v] of Object.entries(sources.environment)) if (v !== undefined) variables[k] = v;
  return { variables, files, errors };
}
