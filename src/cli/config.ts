import { stringify } from 'yaml';
import { HendrixError } from '../errors/hendrix-error.js';
import { getAt, isPathPrefix } from '../manifest/path.js';
import { REDACTED, redactAt } from '../manifest/redact.js';
import { explain } from '../manifest/resolve.js';
import { toManifestInput } from '../manifest/to-input.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { createPlan } from '../runtime/plan.js';
import { MANIFEST_OPTIONS, parseCommandArgs } from './args.js';
import { HELP } from './help.js';
import { manifestArgs, type CliIO } from './io.js';

/** The placeholder that replaces secret values in printed config. */
export { REDACTED } from '../manifest/redact.js';

/** A deep copy of the validated manifest with values from secret-looking variables redacted. */
export function redactedManifest(resolved: ResolvedManifest): unknown {
  const copy = structuredClone(resolved.manifest) as unknown;
  for (const path of resolved.secretPaths) redactAt(copy, path);
  return copy;
}

/** `hendrix config [--explain PATH]`: the resolved manifest, or where one value came from. */
export async function configCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('config', argv, { ...MANIFEST_OPTIONS, explain: { type: 'string' }, format: { type: 'string' } });
  if (values.help) return io.stdout.write(`${HELP.config}\n`), 0;
  const format = values.format ?? 'yaml';
  if (format !== 'yaml' && format !== 'json') {
    throw new HendrixError('HX_ERR_USAGE', { message: `config: unknown --format ${format}`, hint: 'use yaml or json' });
  }
  const args = manifestArgs(io, values);
  // the plan without importing app code: printing the config runs nothing of the app
  const { resolved } = await createPlan(args.files, { ...args.options, importModules: false });
  // written back as manifest input, so that `hendrix config > x.yaml` checks and runs the same
  // when x.yaml sits in the base manifest's folder (relative paths are printed as written)
  const manifest = toManifestInput(redactedManifest(resolved) as Record<string, unknown>, resolved.kinds);
  if (values.explain !== undefined) {
    const explained = explain(resolved, values.explain);
    const value = getAt(manifest, explained.path);
    // a secret written literally (admin.token) is on the very line that set it
    const secret = resolved.secretPaths.some((p) => isPathPrefix(p, explained.path)) ? getAt(resolved.manifest, explained.path) : undefined;
    const rows = explained.origins.map((o, i) => {
      const where = `${o.location.file}:${o.location.line}:${o.location.column}`;
      const line = (o.layer.source.split('\n')[o.location.line - 1] ?? '').trim();
      const text = typeof secret === 'string' && secret !== '' ? line.split(secret).join(REDACTED) : line;
      return { layer: o.layer.type, where, text, winner: i === explained.origins.length - 1 };
    });
    const isDefault = rows.length === 0;
    if (format === 'json') io.stdout.write(`${JSON.stringify({ path: values.explain, value, default: isDefault, origins: rows }, null, 2)}\n`);
    else {
      io.stdout.write(`${values.explain}\n`);
      for (const r of rows) io.stdout.write(`  ${r.winner ? '→' : ' '} ${r.layer.padEnd(5)} ${r.where}  ${r.text}${r.winner ? '  (wins)' : ''}\n`);
      if (isDefault) io.stdout.write('  → default  no layer sets it\n');
      io.stdout.write(`  = ${inlineValue(value)}\n`);
    }
    return 0;
  }
  io.stdout.write(format === 'json' ? `${JSON.stringify(manifest, null, 2)}\n` : stringify(manifest));
  return 0;
}

/** A value on one line, as YAML writes it (`5000`, `127.0.0.1:8000`, `{ initial: 100, ... }`). */
function inlineValue(value: unknown): string {
  return stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trim();
}
