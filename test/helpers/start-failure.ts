import { isHendrixError, type HendrixError } from '../../src/errors/hendrix-error.js';

/** What startFailure() needs of a service. */
export interface Startable {
  start(signal: AbortSignal): Promise<void>;
  stop(signal: AbortSignal): Promise<void>;
}

/**
 * Starts a service that must fail and returns its HendrixError, after checking what every
 * failed start owes: stop() still resolves (twice: it is idempotent) and the message a user
 * reads carries no stack trace.
 */
export async function startFailure(service: Startable, startMs = 5_000): Promise<HendrixError> {
  const error: unknown = await service.start(AbortSignal.timeout(startMs)).then(
    () => undefined,
    (e: unknown) => e,
  );
  await service.stop(AbortSignal.timeout(1_000));
  await service.stop(AbortSignal.timeout(1_000));
  if (!isHendrixError(error)) throw new Error(`expected a HendrixError, got ${String(error)}`, { cause: error });
  if (/\n\s+at /.test(error.message)) throw new Error(`a stack trace in the message: ${error.message}`);
  return error;
}
