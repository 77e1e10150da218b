import { stringify } from 'yaml';
import { HendrixError, type PathSegment } from '../errors/hendrix-error.js';
import { explain } from '../manifest/resolve.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { createPlan } from '../runtime/plan.js';
import { MANIFEST_OPTIONS, parseCommandArgs } from './args.js';
import { HELP } from './help.js';
import { manifestArgs, type CliIO } from './io.js';

/** The placeholder that replaces secret values in printed config. */
export const REDACTED = '[redacted]';

/** A deep copy of the validated manifest with values from secret-looking variables redacted. */
export function redactedManifest(resolved: ResolvedManifest): unknown {
  const copy = structuredClone(resolved.manifest) as unknown;
  for (const path of resolved.secretPaths) redactAt(copy, path);
  return copy;
}

function redactAt(tree: unknown, path: readonly PathSegment[]): void {
  let node = tree as Record<string | number, unknown> | undefined;
  for (let i = 0; i < path.length - 1; i++) {
    const next = node?.[path[i]!];
    if (typeof next !== 'object' || next === null) return;
    node = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1];
  if (node && last !== undefined && last in node) node[last] = REDACTED;
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
  const { resolved } = await createPlan(args.files, args.options);
  if (values.explain !== undefined) {
    const origins = explain(resolved, values.explain);
    const rows = origins.map((o, i) => {
      const where = `${o.location.file}:${o.location.line}:${o.location.column}`;
      const text = (o.layer.source.split('\n')[o.location.line - 1] ?? '').trim();
      return { layer: o.layer.type, where, text, winner: i === origins.length - 1 };
    });
    if (format === 'json') io.stdout.write(`${JSON.stringify({ path: values.explain, origins: rows }, null, 2)}\n`);
    else {
      io.stdout.write(`${values.explain}\n`);
      for (const r of rows) io.stdout.write(`  ${r.winner ? '→' : ' '} ${r.layer.padEnd(5)} ${r.where}  ${r.text}${r.winner ? '  (wins)' : ''}\n`);
    }
    return 0;
  }
  const manifest = redactedManifest(resolved);
  io.stdout.write(format === 'json' ? `${JSON.stringify(manifest, null, 2)}\n` : stringify(manifest));
  return 0;
}
