import { z } from 'zod';
import type { ServiceKind } from '../kinds/contract.js';
import { buildRootSchema } from './root-schema.js';

/** The `$id` of the manifest JSON Schema. */
export const MANIFEST_SCHEMA_ID = 'urn:hendrix:schema:manifest:1';

/**
 * The JSON Schema (draft 2020-12) of a manifest, generated from the zod schemas of the given
 * kinds (the CLI passes the built-in ones): what editors use to complete and check hendrix.yaml,
 * and what schemas/hendrix.schema.json holds.
 */
export function toManifestJsonSchema(kinds: Iterable<readonly [string, ServiceKind]>): Record<string, unknown> {
  const generated = z.toJSONSchema(buildRootSchema(kinds), {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as Record<string, unknown>;
  const { $schema, description, ...rest } = allowVariables(generated) as Record<string, unknown>;
  return {
    $schema,
    $id: MANIFEST_SCHEMA_ID,
    title: 'Hendrix manifest',
    description: description ?? 'A Hendrix manifest (hendrix.yaml).',
    ...rest,
  };
}

/**
 * Lets every patterned string also hold a `${VAR}` reference: the manifest is checked after
 * interpolation, so an editor must not flag `email: ${ACME_EMAIL}` against the email pattern.
 */
function allowVariables(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(allowVariables);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = allowVariables(value);
  if (typeof out['pattern'] === 'string') out['pattern'] = `(?:${out['pattern']})|\\$\\{`;
  return out;
}
