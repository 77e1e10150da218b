import type { z } from 'zod';
import { defineErrorCodes } from '../errors/codes.js';
import { KIND_BRAND, type ServiceKind, type ServiceKindDefinition } from './contract.js';

/**
 * Defines a kind of service: its name, the zod schema of its config, the references that
 * become graph edges, and `create()`. Built-in kinds and custom kinds use this alike.
 */
export function defineServiceKind<Schema extends z.ZodObject>(
  definition: ServiceKindDefinition<Schema>,
): ServiceKind<Schema> {
  if (!definition || typeof definition.kind !== 'string' || !definition.kind) {
    throw new TypeError('defineServiceKind: `kind` must be a non-empty string');
  }
  if (typeof definition.create !== 'function') throw new TypeError('defineServiceKind: `create` must be a function');
  if (definition.errors) defineErrorCodes(definition.errors);
  return Object.freeze({ ...definition, [KIND_BRAND]: true as const });
}

/** True when `value` is a kind descriptor made by defineServiceKind(). */
export function isServiceKind(value: unknown): value is ServiceKind {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[KIND_BRAND] === true;
}
