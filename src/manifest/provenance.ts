import type { PathSegment, SourceLocation } from '../errors/hendrix-error.js';
import type { LoadedLayer, ScalarText } from './load.js';
import { isPathPrefix, pathKey } from './path.js';
import { SET_FILE } from './set.js';
import type { Origin, Provenance } from './types.js';

interface Entry {
  readonly origin: Origin;
  readonly from: LoadedLayer;
  /** A map merged into the map an earlier layer set (rather than one that replaced it). */
  readonly merged: boolean;
}

interface Slot {
  path: PathSegment[];
  list: Entry[];
}

/**
 * The provenance store of a merged manifest: for every path, the layers that set it (winner
 * last), with the place in each. Besides the Provenance interface it can point at a key
 * itself (for unknown-key errors) and give the raw text of a winning scalar (for `${VAR}`).
 */
export class LayeredProvenance implements Provenance {
  readonly #slots = new Map<string, Slot>();
  readonly #sources = new Map<string, string>();

  /** Starts an empty store over the given layers (their texts serve code frames). */
  constructor(layers: readonly LoadedLayer[]) {
    const sets: string[] = [];
    for (const l of layers) {
      if (l.layer.type === 'set') sets.push(l.layer.source);
      else this.#sources.set(l.layer.file, l.layer.source);
    }
    // every flag is line 1 of `--set`: a code frame is only unambiguous for a single flag
    if (sets.length === 1) this.#sources.set(SET_FILE, sets[0]!);
  }

  /**
   * Records that `from` set the value at `path` (appended: it wins over earlier records).
   * `merged` marks a map merged into an earlier layer's map: such a map is still located where
   * it was first declared.
   */
  record(path: readonly PathSegment[], from: LoadedLayer, merged = false): void {
    let location: SourceLocation | undefined;
    for (let n = path.length; n >= 0 && !location; n--) location = from.locate(path.slice(0, n));
    const origin: Origin = { layer: from.layer, location: location ?? { file: from.layer.file, line: 1, column: 1 } };
    const key = pathKey(path);
    const slot = this.#slots.get(key);
    if (slot) slot.list.push({ origin, from, merged });
    else this.#slots.set(key, { path: [...path], list: [{ origin, from, merged }] });
  }

  /** Forgets what was recorded below `path` (and at `path` itself when `self` is true). */
  drop(path: readonly PathSegment[], self: boolean): void {
    for (const [key, slot] of this.#slots) {
      if (isPathPrefix(path, slot.path) && (self || slot.path.length > path.length)) this.#slots.delete(key);
    }
  }

  /** Renumbers the records of list items after index `from` of the list at `path` by `delta`. */
  shift(path: readonly PathSegment[], from: number, delta: number): void {
    const moved: Slot[] = [];
    for (const [key, slot] of this.#slots) {
      const index = slot.path[path.length];
      if (isPathPrefix(path, slot.path) && typeof index === 'number' && index > from) {
        this.#slots.delete(key);
        moved.push(slot);
      }
    }
    for (const slot of moved) {
      slot.path[path.length] = (slot.path[path.length] as number) + delta;
      this.#slots.set(pathKey(slot.path), slot);
    }
  }

  /** Every layer that set exactly this path, lowest precedence first (the winner last). */
  origins(path: readonly PathSegment[]): Origin[] {
    return (this.#slots.get(pathKey(path))?.list ?? []).map((e) => e.origin);
  }

  /**
   * The entry that decides where the value at `path` is: the winner, or for a map that later
   * layers merged into, the layer that declared it.
   */
  #decisive(path: readonly PathSegment[]): Entry | undefined {
    const list = this.#slots.get(pathKey(path))?.list ?? [];
    let i = list.length - 1;
    while (i > 0 && list[i]!.merged) i -= 1;
    return list[i];
  }

  /** The location of the winning value at `path`, or of its nearest ancestor that was set. */
  locate(path: readonly PathSegment[]): SourceLocation | undefined {
    for (let n = path.length; n >= 0; n--) {
      const entry = this.#decisive(path.slice(0, n));
      if (entry) return entry.origin.location;
    }
    return undefined;
  }

  /** The location of the key at `path` itself (for unknown-key errors), else as locate(). */
  locateKey(path: readonly PathSegment[]): SourceLocation | undefined {
    const entry = this.#decisive(path);
    return (entry && entry.from.locate(path, 'key')) ?? this.locate(path);
  }

  /** The layer whose value at `path` won, if any layer set exactly that path. */
  winner(path: readonly PathSegment[]): LoadedLayer | undefined {
    const list = this.#slots.get(pathKey(path))?.list;
    return list?.[list.length - 1]?.from;
  }

  /** The raw text of the winning scalar at `path`, to locate offsets inside it. */
  scalar(path: readonly PathSegment[]): ScalarText | undefined {
    return this.winner(path)?.scalar(path);
  }

  /** Every path some layer set, in the order first recorded. */
  paths(): PathSegment[][] {
    return [...this.#slots.values()].map((s) => [...s.path]);
  }

  /** The source text of a file, for code frames (`--set`: the flag, when there is only one). */
  source(file: string): string | undefined {
    return this.#sources.get(file);
  }
}
