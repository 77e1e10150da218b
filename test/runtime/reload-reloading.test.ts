import { describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../src/log/logger.js';
import { createReloadQueue, type ReloadResult } from '../../src/runtime/reload.js';

/** A queue whose reloads record when they run (and fail while `failing.on`); `heard` is what onReloading got, in order with the runs. */
function queue() {
  const heard: string[] = [];
  const failing = { on: false };
  const q = createReloadQueue(
    async (options) => {
      heard.push(options.dryRun ? 'dry run' : 'run');
      if (failing.on) throw new Error('refused');
      return {} as ReloadResult;
    },
    { onReloading: (on) => void heard.push(on ? 'reloading' : 'done'), onError: () => heard.push('error'), onResult: () => heard.push('result') },
    createSilentLogger(),
  );
  return { q, heard, failing };
}

describe('onReloading (the notifier hears each reload begin and end)', () => {
  it('brackets every reload, one after another, a failed one too; a dry run is not one', async () => {
    const { q, heard, failing } = queue();
    await q.reload();
    await q.reload({ dryRun: true });
    failing.on = true;
    await expect(q.reload()).rejects.toThrow('refused');
    expect(heard).toEqual(['reloading', 'run', 'done', 'dry run', 'reloading', 'run', 'done']);
  });

  it('brackets a requested reload (SIGHUP, a watcher) before its outcome is reported', async () => {
    const { q, heard } = queue();
    q.request();
    await q.enqueue(async () => undefined);
    expect(heard).toEqual(['reloading', 'run', 'done', 'result']);
  });
});
