import { parseArgs, type ParseArgsConfig } from 'node:util';
import { HendrixError } from '../errors/hendrix-error.js';

/** The options every manifest-reading command shares. */
export const MANIFEST_OPTIONS = {
  file: { type: 'string', short: 'f', multiple: true },
  env: { type: 'string', short: 'e' },
  set: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** What parseCommandArgs returns for the options O. */
export type ParsedCommand<O extends NonNullable<ParseArgsConfig['options']>> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>
>;

/** Parses a command's argv, turning parse errors into HX_ERR_USAGE. */
export function parseCommandArgs<const O extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  argv: string[],
  options: O,
  allowPositionals = false,
): ParsedCommand<O> {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (cause) {
    throw new HendrixError('HX_ERR_USAGE', {
      message: `${command}: ${cause instanceof Error ? cause.message.replace(/\. To specify.*$/s, '') : String(cause)}`,
      hint: `run \`hendrix ${command} --help\``,
    });
  }
}
