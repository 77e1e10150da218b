import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { up, type Hendrix } from '../../src/index.js';

/** A graph started in this process by the public `up()`, with every log line it wrote. */
export interface Graph {
  readonly app: Hendrix;
  /** The JSON log lines, in order. */
  readonly lines: Record<string, unknown>[];
  /** The address of a service (`http://127.0.0.1:<port>`). */
  address(service: string): string;
  /** The port a service listens on. */
  port(service: string): number;
}

/** Writes `manifest` as hendrix.yaml in `dir` and runs it with `up()` (no environment). */
export async function startGraph(dir: string, manifest: string): Promise<Graph> {
  const file = join(dir, 'hendrix.yaml');
  writeFileSync(file, manifest);
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info', base: undefined }, { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) });
  const app = await up(file, { environment: {}, logger: log });
  const address = (service: string): string => {
    const found = app.addresses()[service];
    if (found === undefined) throw new Error(`no address for ${service}: ${JSON.stringify(app.addresses())}`);
    return found;
  };
  return { app, lines, address, port: (service) => Number(new URL(address(service).replace(/^ws/, 'http')).port) };
}

/** The log lines at error level or above (pino: 50 error, 60 fatal). */
export function errorLines(lines: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((l) => typeof l['level'] === 'number' && l['level'] >= 50);
}

/** A small seeded PRNG (mulberry32): the same seed gives the same fuzz, so a failure can be replayed. */
export function prng(seed: number): { next(): number; int(n: number): number; pick<T>(items: readonly T[]): T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: (items) => items[int(items.length)] as never };
}

/** Runs `task` for each item with at most `limit` at once; resolves with the results in order. */
export async function inPool<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The seed of a fuzz run: HENDRIX_FUZZ_SEED to replay one, else a fresh one (printed by the test on failure). */
export function fuzzSeed(): number {
  const fixed = Number(process.env['HENDRIX_FUZZ_SEED']);
  return Number.isSafeInteger(fixed) && fixed > 0 ? fixed : 1 + Math.floor(Math.random() * 2 ** 31);
}
