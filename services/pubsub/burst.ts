/**
 * Joins the frames queued for many connections in one event-loop turn, sharing the work:
 * under a burst, the subscribers of a topic all have the same run of frames queued, so the
 * run is concatenated once and the same bytes are written to each of them — one write call
 * per connection per turn, whatever the number of messages.
 */
export class BurstJoiner {
  /** Runs joined this turn, by their first frame. */
  readonly #runs = new Map<Buffer, { frames: readonly Buffer[]; joined: Buffer }[]>();

  /** The frames of `queue` as one buffer, reusing a run joined earlier this turn when identical. */
  join(queue: readonly Buffer[]): Buffer {
    const first = queue[0] as Buffer;
    let candidates = this.#runs.get(first);
    if (candidates !== undefined) {
      for (const run of candidates) if (sameFrames(run.frames, queue)) return run.joined;
    } else {
      candidates = [];
      this.#runs.set(first, candidates);
    }
    const joined = Buffer.concat(queue as Buffer[]);
    // a few distinct runs per first frame at most; beyond that joining is cheaper than searching
    if (candidates.length < 4) candidates.push({ frames: queue, joined });
    return joined;
  }

  /** Forgets the runs (the end of a turn). */
  clear(): void {
    this.#runs.clear();
  }
}

/** Whether two queues hold the very same frame buffers in the same order (identity, not bytes). */
function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
