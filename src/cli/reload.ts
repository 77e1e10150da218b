import { HendrixError } from '../errors/hendrix-error.js';
import { EXIT } from '../errors/codes.js';
import { formatPlanDiff } from '../runtime/plan-diff-format.js';
import type { ReloadResult } from '../runtime/reload.js';
import { parseCommandArgs } from './args.js';
import { clientControlPath, reloadLine } from './control.js';
import { controlErrorOf, controlRequest } from './control-client.js';
import { HELP } from './help.js';
import { reportError, type CliIO } from './io.js';

const OPTIONS = {
  file: { type: 'string', short: 'f', multiple: true },
  control: { type: 'string' },
  'dry-run': { type: 'boolean' },
  replace: { type: 'boolean' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * `hendrix reload [--dry-run] [--replace [SERVICE...]]`: asks the `hendrix up` of this
 * manifest (through its control socket) to plan the edited manifest and apply it. Prints the
 * diff and what was done; exits 0, 78 when the edited manifest has problems (nothing changed),
 * 1 when a step failed and the reload was rolled back.
 */
export async function reloadCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs('reload', argv, OPTIONS, true);
  if (values.help) return io.stdout.write(`${HELP.reload}\n`), EXIT.ok;
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new HendrixError('HX_ERR_USAGE', { message: `reload: unknown --format \`${format}\``, hint: 'use --format text or --format json' });
  if (positionals.length && !values.replace) {
    throw new HendrixError('HX_ERR_USAGE', { message: `reload: unexpected \`${positionals[0]}\``, hint: 'name services only after --replace: hendrix reload --replace web' });
  }
  const path = await clientControlPath(values.file?.length ? values.file : ['hendrix.yaml'], values.control, io.cwd, io.env);
  const query = new URLSearchParams();
  if (values['dry-run']) query.set('dryRun', '1');
  if (values.replace) query.set('replace', positionals.length ? positionals.join(',') : '1');
  const route = `/reload${query.size ? `?${query}` : ''}`;
  const response = await controlRequest(path, 'POST', route);
  const error = controlErrorOf(response);
  if (format === 'json') {
    io.stdout.write(`${JSON.stringify(response.body, null, 2)}\n`);
    return error ? error.exitCode : EXIT.ok;
  }
  if (error) return reportError(io, error);
  const result = response.body as ReloadResult & { ms: number };
  io.stdout.write(formatPlanDiff(result.diff));
  if (result.applied) io.stdout.write(`${reloadLine(result, result.ms)}\n`);
  return EXIT.ok;
}

