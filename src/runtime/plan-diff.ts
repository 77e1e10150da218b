import type { PathSegment } from '../errors/hendrix-error.js';
import type { PlanFileRole } from '../kinds/contract.js';
import type { Plan, PlannedService } from './plan.js';
import { canonicalJson } from './plan-fingerprint.js';

import { isPathPrefix } from '../manifest/path.js';
import { REDACTED, redactAt } from '../manifest/redact.js';

export { formatPlanDiff } from './plan-diff-format.js';
export { REDACTED } from '../manifest/redact.js';

/** One config field of a service that differs, at leaf level (arrays are compared whole). */
export interface FieldChange {
  /** The path inside the service config, e.g. `['restart', 'backoff', 'max']`. */
  readonly path: readonly PathSegment[];
  /** The running value (absent: the field was not set); secrets are `[redacted]`. */
  readonly old?: unknown;
  /** The next value (absent: the field is no longer set); secrets are `[redacted]`. */
  readonly new?: unknown;
}

/** One file of a service (not a manifest layer) whose content differs between the plans. */
export interface FileChange {
  /** The absolute path. */
  readonly path: string;
  /** What it is to the service. */
  readonly role: PlanFileRole;
  /** Whether the next plan added it, dropped it, or has it with other content. */
  readonly change: 'added' | 'removed' | 'modified';
}

/** Why a service counts as changed: its kind, its resolved config, the content of its files. */
export type ChangeReason = 'kind' | 'config' | 'files';

/** A service that is in both plans and differs. */
export interface ServiceChange {
  readonly name: string;
  /** The kind as written in the running plan. */
  readonly oldKind: string;
  /** The kind as written in the next plan. */
  readonly kind: string;
  /** What differs; `kind` means the service must be replaced. */
  readonly reasons: readonly ChangeReason[];
  /** Applied in place with `reload()` (the kind said it can), or replaced by a new instance. */
  readonly mode: 'in-place' | 'replace';
  readonly fields: readonly FieldChange[];
  readonly files: readonly FileChange[];
  /** The transitive dependents in the running graph that will see a new handle (not restarted). */
  readonly affected: readonly string[];
}

/** A service of only one of the two plans. */
export interface ServiceEntry {
  readonly name: string;
  /** The kind as written in the plan that has it. */
  readonly kind: string;
}

/** A removed service, with the running services that depended on it. */
export interface RemovedService extends ServiceEntry {
  /** Its transitive dependents in the running graph that stay (they lose or change the reference). */
  readonly affected: readonly string[];
}

/** One step of applying a diff. */
export interface PlanStep {
  readonly service: string;
  /** stop a removed service, start an added one, reload a changed one in place, or replace it. */
  readonly action: 'stop' | 'start' | 'reload' | 'replace';
}

/**
 * What changes from a running plan to the next one, service by service, with the steps to apply
 * it in dependency order. A plain value: JSON-serializable as is (`--format json`).
 */
export interface PlanDiff {
  /** True when the two plans run the same thing (nothing to do). */
  readonly empty: boolean;
  /** The folder of the next plan's base manifest (file paths are shown relative to it). */
  readonly baseDir: string;
  readonly added: readonly ServiceEntry[];
  readonly removed: readonly RemovedService[];
  readonly changed: readonly ServiceChange[];
  /** The services of both plans that stay as they run, in the next plan's manifest order. */
  readonly unchanged: readonly string[];
  /** Removed services stop (dependents first), then added and changed ones in the next start order. */
  readonly order: readonly PlanStep[];
}

type Value = unknown;

/**
 * Compares the plan a graph runs with the plan of an edited manifest: which services are added,
 * removed, changed (which config fields, old → new with secrets redacted; which files) and
 * unchanged; for each changed one whether its kind applies it in place; who depends on what
 * changes; and the order to apply it in. Pure: reads only the two plans.
 */
export function diffPlans(running: Plan, next: Plan): PlanDiff {
  const added: ServiceEntry[] = [];
  const changed: ServiceChange[] = [];
  const unchanged: string[] = [];
  const removedNames = [...running.services.keys()].filter((n) => !next.services.has(n));
  const gone = new Set(removedNames);
  const affectedBy = (name: string) => transitiveDependents(running, name).filter((n) => !gone.has(n));
  const secrets = [...running.resolved.secretPaths, ...next.resolved.secretPaths];

  for (const [name, now] of next.services) {
    const before = running.services.get(name);
    if (!before) {
      added.push({ name, kind: kindOf(now) });
      continue;
    }
    const kindChanged = kindOf(before) !== kindOf(now) || before.kind.kind !== now.kind.kind;
    const secretPaths = secrets.filter((p) => p[0] === 'services' && p[1] === name).map((p) => p.slice(2));
    const fields = diffValues(before.config, now.config, []).map((f) => redactChange(f, secretPaths));
    const files = diffFiles(before, now);
    const reasons: ChangeReason[] = [];
    if (kindChanged) reasons.push('kind');
    if (fields.length) reasons.push('config');
    if (files.length) reasons.push('files');
    if (!reasons.length) {
      unchanged.push(name);
      continue;
    }
    const own = fields.filter((f) => !isCommonField(f.path));
    const mode = !kindChanged && (own.length + files.length === 0 || canReload(now, own, files)) ? 'in-place' : 'replace';
    changed.push({ name, oldKind: kindOf(before), kind: kindOf(now), reasons, mode, fields, files, affected: affectedBy(name) });
  }

  const removed: RemovedService[] = removedNames.map((name) => ({ name, kind: kindOf(running.services.get(name)!), affected: affectedBy(name) }));
  const byName = new Map<string, PlanStep['action']>([
    ...added.map((s) => [s.name, 'start'] as const),
    ...changed.map((s) => [s.name, s.mode === 'in-place' ? 'reload' : 'replace'] as const),
  ]);
  const order: PlanStep[] = [
    // the running start order reversed stops dependents before what they depend on
    ...[...running.order].reverse().filter((n) => gone.has(n)).map((service) => ({ service, action: 'stop' as const })),
    ...next.order.filter((n) => byName.has(n)).map((service) => ({ service, action: byName.get(service)! })),
  ];
  return {
    empty: order.length === 0,
    baseDir: next.baseDir,
    added,
    removed,
    changed,
    unchanged,
    order,
  };
}

/** The fields every service has, which the orchestrator applies itself (a kind is never asked about them). */
const COMMON_FIELDS: ReadonlySet<PathSegment> = new Set(['kind', 'dependsOn', 'startTimeout', 'stopTimeout', 'restart', 'onFailed']);

/** Whether a config path is one of the common fields the orchestrator applies. */
export function isCommonField(path: readonly PathSegment[]): boolean {
  return COMMON_FIELDS.has(path[0] ?? '');
}

/** Whether a change touches only common fields: the orchestrator applies it without calling the service. */
export function isCoreOnly(change: ServiceChange): boolean {
  return change.mode === 'in-place' && change.files.length === 0 && change.fields.every((f) => isCommonField(f.path));
}

/** The kind as the manifest writes it (a custom kind's module path, a built-in's name). */
function kindOf(service: PlannedService): string {
  return String(service.config.kind ?? service.kind.kind);
}

/** The services that depend on `name`, directly or through others, in the running start order. */
function transitiveDependents(plan: Plan, name: string): string[] {
  const seen = new Set<string>();
  const visit = (n: string) => {
    for (const d of plan.graph.dependents(n)) if (!seen.has(d)) seen.add(d), visit(d);
  };
  visit(name);
  return plan.order.filter((n) => seen.has(n));
}

const isObject = (v: Value): v is Record<string, Value> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The leaf-level differences of two config trees: objects recursively, everything else whole. */
function diffValues(old: Value, now: Value, path: PathSegment[]): FieldChange[] {
  // an object that appears or disappears is listed by its leaves too, each without the other side
  const a = old === undefined && isObject(now) ? {} : old;
  const b = now === undefined && isObject(old) ? {} : now;
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((key) => diffValues(a[key], b[key], [...path, key]));
  }
  if (canonicalJson(old) === canonicalJson(now)) return [];
  return [fieldChange(path, old, now)];
}

function fieldChange(path: readonly PathSegment[], old: Value, now: Value): FieldChange {
  // absent sides are left out rather than undefined, so the JSON form says the same
  return { path, ...(old === undefined ? {} : { old }), ...(now === undefined ? {} : { new: now }) };
}

/** Replaces the secret parts of a change: the whole value under a secret path, or the secrets inside it. */
function redactChange(change: FieldChange, secretPaths: readonly (readonly PathSegment[])[]): FieldChange {
  const { path } = change;
  let old = change.old;
  let now = change.new;
  for (const secret of secretPaths) {
    if (isPathPrefix(secret, path)) {
      old = old === undefined ? undefined : REDACTED;
      now = now === undefined ? undefined : REDACTED;
    } else if (isPathPrefix(path, secret)) {
      old = redactInside(old, secret.slice(path.length));
      now = redactInside(now, secret.slice(path.length));
    }
  }
  return fieldChange(path, old, now);
}

/** A copy of `value` with the value at `inner` replaced by the placeholder, when it is there. */
function redactInside(value: Value, inner: readonly PathSegment[]): Value {
  if (typeof value !== 'object' || value === null) return value;
  const copy = structuredClone(value) as Record<PathSegment, Value>;
  redactAt(copy, inner);
  return copy;
}

/** The files whose content differs; manifest layers are left out (the config diff says what they changed). */
function diffFiles(before: PlannedService, now: PlannedService): FileChange[] {
  const key = (f: { path: string; role: string }) => `${f.role}\0${f.path}`;
  const own = (s: PlannedService) => new Map(s.files.filter((f) => f.role !== 'manifest').map((f) => [key(f), f]));
  const old = own(before);
  const next = own(now);
  const changes: FileChange[] = [];
  for (const [k, f] of old) if (!next.has(k)) changes.push({ path: f.path, role: f.role, change: 'removed' });
  for (const [k, f] of next) {
    const was = old.get(k);
    if (!was) changes.push({ path: f.path, role: f.role, change: 'added' });
    else if (was.digest !== f.digest) changes.push({ path: f.path, role: f.role, change: 'modified' });
  }
  return changes;
}

/** Asks the kind whether it applies this change in place; a kind without the predicate is replaced. */
function canReload(service: PlannedService, fields: readonly FieldChange[], files: readonly FileChange[]): boolean {
  const predicate = service.kind.canReload;
  if (!predicate) return false;
  try {
    return predicate({ fields: fields.map((f) => [...f.path]), files: files.map((f) => ({ path: f.path, role: f.role })) }) === true;
  } catch {
    // a replacement is always correct, only slower: a faulty predicate must not stop a reload
    return false;
  }
}
