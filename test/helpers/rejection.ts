import { expect } from 'vitest';
import { HendrixError } from '../../src/errors/hendrix-error.js';

/** Awaits a promise that must reject with a HendrixError, and returns that error. */
export async function rejection(promise: Promise<unknown>): Promise<HendrixError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HendrixError);
  return error as HendrixError;
}
