import { HendrixError, isHendrixError } from '../errors/hendrix-error.js';
import { renderErrorsJson } from '../errors/render.js';
import { plan } from '../runtime/up.js';
import { MANIFEST_OPTIONS, parseCommandArgs } from './args.js';
import { HELP } from './help.js';
import { manifestArgs, reportError, type CliIO } from './io.js';

/** `hendrix check`: the up pipeline without starting anything; 0 or 78 with every problem. */
export async function checkCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('check', argv, { ...MANIFEST_OPTIONS, format: { type: 'string' } });
  if (values.help) return io.stdout.write(`${HELP.check}\n`), 0;
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') {
    throw new HendrixError('HX_ERR_USAGE', { message: `check: unknown --format ${format}`, hint: 'use --format text or --format json' });
  }
  const args = manifestArgs(io, values);
  try {
    const { resolved, graph } = await plan(args.manifest, args);
    if (format === 'json') io.stdout.write(`${JSON.stringify({ ok: true, services: graph.order, diagnostics: [] }, null, 2)}\n`);
    else io.stdout.write(`ok: ${Object.keys(resolved.manifest.services).length} services, start order: ${graph.order.join(', ')}\n`);
    return 0;
  } catch (error) {
    if (format === 'json' && isHendrixError(error)) {
      io.stdout.write(`${JSON.stringify({ ok: false, diagnostics: renderErrorsJson(error) }, null, 2)}\n`);
      return error.exitCode;
    }
    return reportError(io, error);
  }
}
