import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { PlanFileRole } from '../kinds/contract.js';
import type { Plan } from '../runtime/plan.js';

/** Watches the files of a plan (`hendrix up --watch`) and calls back, debounced, when one changes. */
export interface PlanWatcher {
  /** Watches the files of the plan the graph runs now (after a reload). */
  update(plan: Plan): void;
  close(): void;
}

/**
 * The roles watched: what a reload would pick up. Certificates and keys are left out (the tls
 * kind already reloads them when they change), static folders too (served as they are).
 */
const WATCHED: ReadonlySet<PlanFileRole> = new Set(['manifest', 'app', 'module', 'schema', 'commands', 'kind', 'jwt-key', 'ca', 'other']);

/** The files of a plan worth a reload when they change: manifest layers, `.env` files, code. */
export function watchedFiles(plan: Plan, env: string | undefined): Set<string> {
  const files = new Set<string>(plan.manifestFiles);
  for (const name of ['.env', ...(env ? [`.env.${env}`] : [])]) files.add(join(plan.baseDir, name));
  for (const service of plan.services.values()) for (const f of service.files) if (WATCHED.has(f.role)) files.add(f.path);
  return files;
}

/**
 * Watches the folders of the plan's files (not the files: editors that save by renaming a new
 * file over the old one would end a watch on the file) and calls `onChange` once per burst of
 * changes, `debounceMs` after the last one.
 */
export function watchPlan(plan: Plan, env: string | undefined, onChange: (files: string[]) => void, debounceMs = 150): PlanWatcher {
  const watchers = new Map<string, FSWatcher>();
  let files = new Set<string>();
  let changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const fire = (): void => {
    timer = undefined;
    const list = [...changed];
    changed = new Set();
    if (!closed && list.length) onChange(list);
  };
  const sync = (next: Plan): void => {
    files = watchedFiles(next, env);
    const dirs = new Set([...files].map((f) => dirname(f)));
    for (const [dir, w] of watchers) if (!dirs.has(dir)) (w.close(), watchers.delete(dir));
    for (const dir of dirs) {
      if (watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          const file = name ? join(dir, name.toString()) : undefined;
          if (file === undefined || !files.has(file)) return;
          changed.add(file);
          if (timer) clearTimeout(timer);
          timer = setTimeout(fire, debounceMs);
        });
        w.on('error', () => watchers.delete(dir));
        watchers.set(dir, w);
      } catch {
        // a folder that does not exist (an .env folder never created): nothing to watch there
      }
    }
  };
  sync(plan);
  return {
    update: sync,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

/** `app.mjs, hendrix.yaml` for the line that says what a watch saw change. */
export function changedNames(files: readonly string[]): string {
  return files.map((f) => basename(f)).join(', ');
}
