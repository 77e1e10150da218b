import { z } from 'zod';
import { builtinKinds } from '../../services/index.js';
import type { ServiceKind } from '../runtime/contract.js';
import { buildRootSchema } from './root-schema.js';

/** The `$id` of the manifest JSON Schema. */
export const MANIFEST_SCHEMA_ID = 'urn:hendrix:schema:manifest:1';

/**
 * The JSON Schema (draft 2020-12) of a manifest, generated from the zod schemas of the given
 * kinds (default: the built-in ones): what editors use to complete and check hendrix.yaml,
 * and what schemas/hendrix.schema.json holds.
 */
export function toManifestJsonSchema(kinds: Iterable<readonly [string, ServiceKind]> = builtinKinds): Record<string, unknown> {
  const generated = z.toJSONSchema(buildRootSchema(kinds), {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as Record<string, unknown>;
  const { $schema, description, ...rest } = generated;
  return {
    $schema,
    $id: MANIFEST_SCHEMA_ID,
    title: 'Hendrix manifest',
    description: description ?? 'A Hendrix manifest (hendrix.yaml).',
    ...rest,
  };
}
