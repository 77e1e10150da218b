import { ERROR_CODES, type ErrorCodeTable } from './codes.js';

/** One section of docs/errors.md: the core's codes, or one kind's. */
export interface ErrorsDocSection {
  /** `core`, or the kind's name. */
  readonly name: string;
  readonly codes: ErrorCodeTable;
}

function rows(codes: ErrorCodeTable): string[] {
  return Object.entries(codes).map(([code, info]) => `| \`${code}\` | ${info.exit} | ${info.title} | ${info.hint.replace(/\|/g, '\\|')} |`);
}

/**
 * Renders docs/errors.md: the core's codes, then each kind's (the CLI's built-in kinds, as
 * `npm run docs:errors` passes them), one row per code.
 */
export function renderErrorsDoc(kinds: readonly ErrorsDocSection[] = []): string {
  const sections = [{ name: 'core', codes: ERROR_CODES as ErrorCodeTable }, ...kinds];
  return [
    '# Error codes',
    '',
    'Every error Hendrix reports carries one of these stable codes, the manifest path and the',
    'file:line:column it is about, and a hint. Codes are never reused. `hendrix check --format json`',
    'prints the same fields for machines. The core declares its codes in `src/errors/codes.ts`; each',
    'kind declares its own in `defineServiceKind({ errors })` (`services/<kind>/codes.ts` for the',
    'built-in kinds). This file is generated from both (`npm run docs:errors`); a test keeps them in step.',
    '',
    'Exit codes: 0 ok, 1 failed start, 2 forced quit, 3 failed stop, 4 a service failed while running,',
    '5 stopped after an uncaught exception, 64 usage error, 78 manifest error. A manifest or plan',
    'problem found by `check` or before `up` starts anything exits 78, whatever the code of each problem.',
    ...sections.flatMap((s) => [
      '',
      s.name === 'core' ? '## Core' : `## Kind \`${s.name}\``,
      '',
      '| code | exit | what went wrong | hint |',
      '| --- | --- | --- | --- |',
      ...rows(s.codes),
    ]),
    '',
  ].join('\n');
}
