import { OutgoingQueue } from '../../../services/irc/outgoing-queue.js';
import { createCapturingLogger } from '../http/test-context.js';
import { ManualClock } from '../manual-clock.js';

/** What makeQueue() options may change (the rest are the schema defaults). */
export interface ManualQueueOptions {
  burst?: number;
  interval?: number;
  maxQueue?: number;
  relayMaxAge?: number;
}

/**
 * An outgoing queue on the manual clock with the default flood settings, a capturing logger,
 * and a writer that records each line with the time it went out.
 */
export function makeQueue(options: ManualQueueOptions = {}) {
  const clock = new ManualClock();
  const { log, lines: logs } = createCapturingLogger();
  const queue = new OutgoingQueue({
    burst: options.burst ?? 4,
    interval: options.interval ?? 2_000,
    maxQueue: options.maxQueue ?? 1_000,
    relayMaxAge: options.relayMaxAge ?? 300_000,
    nickBytes: 10,
    clock,
    log,
  });
  const sent: { at: number; line: string }[] = [];
  const writer = (line: string): boolean => (sent.push({ at: clock.now(), line }), true);
  return { clock, queue, logs, sent, writer, lines: () => sent.map((s) => s.line) };
}
