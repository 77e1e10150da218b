import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { forgetCommonJs } from './fresh-import.js';

/**
 * Which generation of an app's module graph the process imports: the plan's provision step
 * (which imports the app to check its shape) and the service (which runs it) must agree, so
 * that a reload checks the code it then runs and imports it once. One record per app entry
 * file, kept on `globalThis` so that every copy of this module in the process (sources and
 * bundle) shares it.
 */
interface AppVersion {
  /** The digest of the graph the current generation was imported with (a promise while the first one is computed). */
  digest: Promise<string | undefined>;
  /** The generation imported last. */
  generation: number;
  /** The highest generation given out. */
  last: number;
  /** Generations by digest: a graph whose content comes back reuses its generation (no new copy of the modules). */
  readonly byDigest: Map<string, number>;
  /** Checks of one entry run one after another (two services, or a plan and a reload, may share an app). */
  queue: Promise<unknown>;
}

type Shared = { apps: Map<string, AppVersion> };
const key = Symbol.for('hendrix.http.appVersions');
const shared = ((globalThis as { [key]?: Shared })[key] ??= { apps: new Map() });

/** The project files of an app's module graph, entry first (files that do not exist included: one may appear). */
export type GraphFiles = () => Promise<readonly string[]>;

/** The generation to import an app entry at, and whether it is one this process has not imported yet. */
export interface AppGeneration {
  readonly generation: number;
  /** True when this generation is imported for the first time (its modules run now). */
  readonly fresh: boolean;
}

/**
 * The generation of an app entry's module graph to import. The first import of an entry is
 * generation 0 (the plain URL), hashed before it imports (hashed after, a file saved meanwhile
 * would pass for imported; hashed before, it only costs one more generation at the next
 * reload). With `check` (a reload, or the plan of one)
 * the graph is hashed again: unchanged, the same generation (the cached modules, nothing runs
 * again); changed, a new one, or the generation that last had exactly this content. Without
 * `check` (a start) the current generation is used as it is.
 */
export function appGeneration(entry: string, files: GraphFiles, check: boolean): Promise<AppGeneration> {
  const known = shared.apps.get(entry);
  if (known === undefined) {
    const digest = files().then(digestOf, () => undefined);
    const record: AppVersion = { digest, generation: 0, last: 0, byDigest: new Map(), queue: digest };
    shared.apps.set(entry, record);
    return digest.then((d) => {
      if (d !== undefined) record.byDigest.set(d, 0);
      return { generation: 0, fresh: true };
    });
  }
  if (!check) return Promise.resolve({ generation: known.generation, fresh: false });
  const next = known.queue.then(() => recheck(known, files));
  known.queue = next.catch(() => undefined);
  return next;
}

async function recheck(record: AppVersion, files: GraphFiles): Promise<AppGeneration> {
  const list = await files();
  const digest = digestOf(list);
  if (digest === (await record.digest)) return { generation: record.generation, fresh: false };
  const seen = record.byDigest.get(digest);
  const generation = seen ?? ++record.last;
  record.byDigest.set(digest, generation);
  record.generation = generation;
  record.digest = Promise.resolve(digest);
  // CommonJS files are cached by path, not URL: the new generation must run them again
  if (seen === undefined) forgetCommonJs(list);
  return { generation, fresh: seen === undefined };
}

/** The digest of files' paths and contents, in order (a missing file counts as missing). */
function digestOf(files: readonly string[]): string {
  const hash = createHash('sha256');
  // a few small project files, read at once: no open/read/close round trips on the way to the import
  const read = (file: string): Buffer | undefined => {
    try {
      return readFileSync(file);
    } catch {
      return undefined;
    }
  };
  files.forEach((file) => {
    const content = read(file);
    hash.update(`${file}\0${content === undefined ? 'missing' : content.length}\0`);
    if (content !== undefined) hash.update(content);
  });
  return hash.digest('hex');
}
