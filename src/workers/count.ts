import { availableParallelism } from 'node:os';
import { HendrixError } from '../errors/hendrix-error.js';
import type { Manifest } from '../manifest/types.js';

/** Checks a `--workers` value (`auto` or a whole number from 1); HX_ERR_USAGE otherwise. */
export function parseWorkersFlag(flag: string | undefined): 'auto' | number | undefined {
  if (flag === undefined) return undefined;
  if (flag === 'auto') return 'auto';
  if (/^\d+$/.test(flag) && Number(flag) >= 1 && Number(flag) <= 1024) return Number(flag);
  throw new HendrixError('HX_ERR_USAGE', { message: `--workers takes \`auto\` or a number from 1 to 1024, not \`${flag}\``, hint: 'e.g. `hendrix up --workers 4`, or `--workers auto` for one per core' });
}

/**
 * How many workers serve the graph: the `--workers` flag, else the manifest's `workers`;
 * `auto` is one per core the process may use (os.availableParallelism()).
 */
export function workerCount(manifest: Pick<Manifest, 'workers'>, flag: 'auto' | number | undefined, cores: () => number = availableParallelism): number {
  const setting = flag ?? manifest.workers;
  return setting === 'auto' ? Math.max(1, cores()) : setting;
}
