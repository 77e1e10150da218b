import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * Watches files for changes and calls `onChange` once per burst (`debounceMs` after the last
 * event). The folders are watched, not the files: tools that renew certificates replace files
 * by renaming (certbot, Kubernetes secrets swap a symlink), which ends a watch on the file.
 */
export class FileWatcher {
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(files: readonly string[], onChange: (files: string[]) => void, options: { debounceMs?: number; onError?: (error: Error) => void } = {}) {
    const debounce = options.debounceMs ?? 150;
    const changed = new Set<string>();
    const byDir = new Map<string, Set<string>>();
    for (const file of files) {
      const dir = dirname(file);
      const names = byDir.get(dir) ?? new Set<string>();
      names.add(basename(file));
      byDir.set(dir, names);
    }
    for (const [dir, names] of byDir) {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        // a symlink swap (..data) changes no watched name: treat unnamed and unknown events as changes
        const file = name === null ? undefined : names.has(String(name)) ? `${dir}/${String(name)}` : String(name).startsWith('..') ? dir : undefined;
        if (file === undefined || this.#closed) return;
        changed.add(file);
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => {
          const list = [...changed];
          changed.clear();
          if (!this.#closed) onChange(list);
        }, debounce);
      });
      watcher.on('error', (error) => options.onError?.(error));
      this.#watchers.push(watcher);
    }
  }

  /** Stops watching. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers.length = 0;
  }
}
