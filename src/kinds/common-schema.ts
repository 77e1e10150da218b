import { z } from 'zod';
import { duration, int, number, serviceNames } from './fields.js';

/** The restart policy every service has; defaults follow systemd's `on-failure` with backoff. */
export const restartSchema = z
  .strictObject({
    policy: z
      .enum(['no', 'on-failure', 'always'])
      .default('on-failure')
      .describe('When to restart a service that died after it was ready: never, only after a failure, or also after a clean exit.'),
    backoff: z
      .strictObject({
        initial: duration('Delay before the first restart.').default(100),
        factor: number('Each further delay is the previous one times this factor.').default(2),
        max: duration('The longest delay between restarts.').default(30_000),
        jitter: number('Random spread added to each delay, as a fraction of it (0 to 1).').pipe(z.number().max(1)).default(0.1),
      })
      .prefault({})
      .describe('How long to wait before each restart.'),
    limit: z
      .strictObject({
        burst: int('How many restarts are allowed within `window`; one more marks the service failed.').pipe(z.number().min(0)).default(5),
        window: duration('The sliding window `burst` counts restarts in.').default(60_000),
      })
      .prefault({})
      .describe('When to give up and mark the service failed.'),
  })
  .prefault({})
  .describe('Supervision: restart policy, backoff schedule and restart limit.');

/** The fields every service has, whatever its kind. */
export const commonServiceFields = {
  dependsOn: serviceNames('Services that must be ready before this one starts, and that stop only after it.').default([]),
  startTimeout: duration('How long start may take before it is a failure.').default(30_000),
  stopTimeout: duration('How long a graceful stop may take before the service is forced.').default(10_000),
  restart: restartSchema,
  onFailed: z
    .enum(['stop', 'keep'])
    .default('stop')
    .describe(
      'What the graph does when this service ends failed while running (restart limit reached, or a crash its policy does not restart): stop — stop every service gracefully and exit 4, so that systemd, Docker or Kubernetes restart the whole; keep — keep the rest running.',
    ),
} as const;
