import { relative } from 'node:path';
import type { PathSegment } from '../errors/hendrix-error.js';
import { REDACTED } from '../manifest/redact.js';
import type { FieldChange, PlanDiff } from './plan-diff.js';

/** How long a value may be on a diff line before it is cut with `…`. */
const MAX_VALUE = 60;

/**
 * The diff as `hendrix reload --dry-run` prints it: one block per service in the order the
 * steps run (`+ name (kind)` added, `- name` removed, `~ name (in place|replaced)` with its
 * fields old → new and changed files), then one line for the unchanged services.
 */
export function formatPlanDiff(diff: PlanDiff): string {
  const lines: string[] = [];
  const removed = new Map(diff.removed.map((s) => [s.name, s]));
  const added = new Map(diff.added.map((s) => [s.name, s]));
  const changed = new Map(diff.changed.map((s) => [s.name, s]));
  const affectedLine = (names: readonly string[]) => (names.length ? [`  affected: ${names.join(', ')}`] : []);
  for (const step of diff.order) {
    const gone = removed.get(step.service);
    const fresh = added.get(step.service);
    const change = changed.get(step.service);
    if (gone) lines.push(`- ${gone.name}`, ...affectedLine(gone.affected));
    else if (fresh) lines.push(`+ ${fresh.name} (${fresh.kind})`);
    else if (change) {
      lines.push(`~ ${change.name} (${change.mode === 'in-place' ? 'in place' : 'replaced'})`);
      if (change.reasons.includes('kind')) lines.push(`    kind: ${change.oldKind} → ${change.kind}`);
      for (const field of change.fields) if (!isKindField(field)) lines.push(`    ${fieldPath(field.path)}: ${shown(field, 'old')} → ${shown(field, 'new')}`);
      for (const file of change.files) lines.push(`    file ${relative(diff.baseDir, file.path) || file.path} ${file.change}`);
      lines.push(...affectedLine(change.affected));
    }
  }
  if (diff.unchanged.length) lines.push(`= ${diff.unchanged.length} unchanged: ${diff.unchanged.join(', ')}`);
  if (diff.empty) lines.unshift('no changes');
  return `${lines.join('\n')}\n`;
}

// the kind line above already says it, without JSON quotes
const isKindField = (field: FieldChange) => field.path.length === 1 && field.path[0] === 'kind';

/** `restart.backoff.max`, `tokens[0].token`. */
function fieldPath(path: readonly PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function shown(field: FieldChange, side: 'old' | 'new'): string {
  if (!(side in field)) return '(unset)';
  const value = field[side];
  const text = value === REDACTED ? value : (JSON.stringify(value) ?? String(value));
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}
