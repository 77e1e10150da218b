import { ERROR_CODES } from './codes.js';

/** Renders docs/errors.md from the code table: one row per code. */
export function renderErrorsDoc(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, info]) => `| \`${code}\` | ${info.exit} | ${info.title} | ${info.hint.replace(/\|/g, '\\|')} |`,
  );
  return [
    '# Error codes',
    '',
    'Every error Hendrix reports carries one of these stable codes, the manifest path and the',
    'file:line:column it is about, and a hint. Codes are never reused. `hendrix check --format json`',
    'prints the same fields for machines. This file is generated from `src/errors/codes.ts`',
    '(`npm run docs:errors`); a test keeps the two in step.',
    '',
    'Exit codes: 0 ok, 1 failed start, 2 forced quit, 3 failed stop, 64 usage error, 78 manifest error.',
    '',
    '| code | exit | what went wrong | hint |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
