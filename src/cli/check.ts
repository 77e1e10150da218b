import { HendrixError, isHendrixError } from '../errors/hendrix-error.js';
import { renderError, renderErrorsJson } from '../errors/render.js';
import { createPlan } from '../runtime/plan.js';
import { MANIFEST_OPTIONS, parseCommandArgs } from './args.js';
import { HELP } from './help.js';
import { manifestArgs, reportError, type CliIO } from './io.js';

/**
 * `hendrix check`: the up pipeline up to and including the plan (provision steps too), without
 * opening a socket; exits 0 (warnings printed) or 78 with every problem.
 */
export async function checkCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('check', argv, { ...MANIFEST_OPTIONS, format: { type: 'string' }, 'no-import': { type: 'boolean' } });
  if (values.help) return io.stdout.write(`${HELP.check}\n`), 0;
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') {
    throw new HendrixError('HX_ERR_USAGE', { message: `check: unknown --format ${format}`, hint: 'use --format text or --format json' });
  }
  const args = manifestArgs(io, values);
  try {
    const plan = await createPlan(args.files, { ...args.options, importModules: !values['no-import'] });
    if (format === 'json') {
      const services = Object.fromEntries([...plan.services.values()].map((s) => [s.name, { kind: s.config.kind, fingerprint: s.fingerprint, configFingerprint: s.configFingerprint, files: s.files.map((f) => ({ path: f.path, role: f.role })) }]));
      const warnings = plan.warnings.flatMap((w) => renderErrorsJson(w));
      io.stdout.write(`${JSON.stringify({ ok: true, order: plan.order, fingerprint: plan.fingerprint, services, diagnostics: warnings }, null, 2)}\n`);
    } else {
      const color = Boolean(io.stderr.isTTY) && !io.env.NO_COLOR;
      for (const w of plan.warnings) io.stderr.write(`${renderError(w, { color, label: 'warning' })}\n\n`);
      const n = plan.services.size;
      io.stdout.write(`ok: ${n} service${n === 1 ? '' : 's'}, start order: ${plan.order.join(', ')}${plan.warnings.length ? ` (${plan.warnings.length} warning${plan.warnings.length === 1 ? '' : 's'})` : ''}\n`);
    }
    return 0;
  } catch (error) {
    if (format === 'json' && isHendrixError(error)) {
      io.stdout.write(`${JSON.stringify({ ok: false, diagnostics: renderErrorsJson(error) }, null, 2)}\n`);
      return error.exitCode;
    }
    return reportError(io, error);
  }
}
