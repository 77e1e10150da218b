import { HendrixError, formatPath, type PathSegment } from '../errors/hendrix-error.js';
import type { LoadedLayer } from './load.js';
import { isPlainMap } from './path.js';
import { LayeredProvenance } from './provenance.js';

/** The merged tree of all layers, where each value came from, and any problem applying --set. */
export interface MergeResult {
  /** The merged manifest tree (plain JS, not yet interpolated or validated). */
  readonly value: Record<string, unknown>;
  /** For every path, the layers that set it (winner last). */
  readonly provenance: LayeredProvenance;
  /** Problems applying --set paths (indexing past a list's end, a key into a list). */
  readonly errors: HendrixError[];
}

type Container = Record<string, unknown> | unknown[];

function setKey(target: Container, key: PathSegment, value: unknown): void {
  if (Array.isArray(target)) target[key as number] = value;
  // defineProperty keeps a `__proto__` key an ordinary key
  else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function has(target: Container, key: PathSegment): boolean {
  return Object.prototype.hasOwnProperty.call(target, key);
}

function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (isPlainMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setKey(out, k, clone(v));
    return out;
  }
  return value;
}

/**
 * Merges manifest layers, lowest precedence first: mappings deep-merge, scalars and lists
 * replace, and `null` in any layer after the first deletes the key (or a whole service). In
 * the first layer a `null` stays a value, so that validation can say it is not allowed there.
 */
export function mergeLayers(layers: readonly LoadedLayer[]): MergeResult {
  const provenance = new LayeredProvenance(layers);
  const root: Record<string, unknown> = {};
  const errors: HendrixError[] = [];

  const recordTree = (value: unknown, path: PathSegment[], from: LoadedLayer) => {
    provenance.record(path, from);
    if (Array.isArray(value)) value.forEach((item, i) => recordTree(item, [...path, i], from));
    else if (isPlainMap(value)) for (const [k, v] of Object.entries(value)) recordTree(v, [...path, k], from);
  };

  const remove = (parent: Container, key: PathSegment, path: PathSegment[]) => {
    if (!has(parent, key)) return;
    provenance.drop(path, true);
    if (Array.isArray(parent) && typeof key === 'number') {
      parent.splice(key, 1);
      provenance.shift(path.slice(0, -1), key, -1);
    } else delete (parent as Record<string, unknown>)[key];
  };

  const assign = (parent: Container, key: PathSegment, incoming: unknown, path: PathSegment[], from: LoadedLayer, deletes: boolean) => {
    if (incoming === null && deletes) return remove(parent, key, path);
    const existing = has(parent, key) ? (parent as Record<PathSegment, unknown>)[key] : undefined;
    if (isPlainMap(incoming)) {
      const existingWasMap = isPlainMap(existing);
      if (!existingWasMap) {
        provenance.drop(path, false);
        setKey(parent, key, {});
      }
      provenance.record(path, from, existingWasMap);
      const target = (parent as Record<PathSegment, unknown>)[key] as Record<string, unknown>;
      for (const [k, v] of Object.entries(incoming)) assign(target, k, v, [...path, k], from, deletes);
      return;
    }
    provenance.drop(path, false);
    setKey(parent, key, clone(incoming));
    recordTree(incoming, path, from);
  };

  layers.forEach((from, index) => {
    const deletes = index > 0;
    if (from.at.length === 0) {
      if (!isPlainMap(from.value)) return;
      if (index === 0) provenance.record([], from); // the root "is" the base file
      for (const [k, v] of Object.entries(from.value)) assign(root, k, v, [k], from, deletes);
      return;
    }
    // a --set path: walk to its parent, creating (or replacing) containers on the way
    let parent: Container = root;
    const at = [...from.at];
    for (let i = 0; i < at.length; i++) {
      const seg = at[i]!;
      const here = at.slice(0, i + 1);
      const there = at.slice(0, i);
      if (Array.isArray(parent) !== (typeof seg === 'number')) {
        // only the root can get here: deeper containers are checked before stepping into them
        const what = Array.isArray(parent) ? 'a list; address its items with an index such as [0]' : 'a mapping, not a list';
        errors.push(
          new HendrixError('HX_ERR_SET_SYNTAX', {
            message: `cannot --set ${formatPath(at)}: ${formatPath(there) || 'the manifest'} is ${what}`,
            path: at,
            location: from.locate(here, 'key'),
          }),
        );
        return;
      }
      if (Array.isArray(parent) && (seg as number) > parent.length) {
        errors.push(
          new HendrixError('HX_ERR_SET_SYNTAX', {
            message: `cannot --set ${formatPath(at)}: ${formatPath(there)} has ${parent.length} item${parent.length === 1 ? '' : 's'}, so index ${seg} is past its end`,
            path: at,
            location: from.locate(here, 'key'),
          }),
        );
        return;
      }
      if (i === at.length - 1) return assign(parent, seg, from.value, here, from, true);
      const next = has(parent, seg) ? (parent as Record<PathSegment, unknown>)[seg] : undefined;
      const wantList = typeof at[i + 1] === 'number';
      if ((Array.isArray(next) && !wantList) || (isPlainMap(next) && wantList)) {
        const what = wantList ? 'a mapping, not a list' : 'a list; address its items with an index such as [0]';
        errors.push(
          new HendrixError('HX_ERR_SET_SYNTAX', {
            message: `cannot --set ${formatPath(at)}: ${formatPath(here)} is ${what}`,
            path: at,
            location: from.locate(at.slice(0, i + 2), 'key'),
          }),
        );
        return;
      }
      if (wantList ? !Array.isArray(next) : !isPlainMap(next)) {
        if (from.value === null) return; // deleting below something that is not there: nothing to do
        provenance.drop(here, false);
        setKey(parent, seg, wantList ? [] : {});
        provenance.record(here, from);
      }
      parent = (parent as Record<PathSegment, unknown>)[seg] as Container;
    }
  });
  return { value: root, provenance, errors };
}
