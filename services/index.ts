import type { ServiceKind } from '../src/kinds/contract.js';

/** Loads one built-in kind: its descriptor, schema and codes (its implementation loads at create). */
export type BuiltinKindLoader = () => Promise<ServiceKind>;

// cast: a kind with its own schema type is not assignable to the general ServiceKind (contract.ts)
const as = (kind: unknown): ServiceKind => kind as ServiceKind;

/**
 * The built-in kinds, by name — the explicit list the CLI and the package entry compose into
 * the core. Each loads only when a manifest uses it (its schema too: building five kinds'
 * schemas for a manifest that uses one is start-up time a user would notice).
 */
export const builtinKinds: ReadonlyMap<string, BuiltinKindLoader> = new Map<string, BuiltinKindLoader>([
  ['http', async () => as((await import('./http/kind.js')).httpKind)],
  ['tls', async () => as((await import('./tls/kind.js')).tlsKind)],
  ['irc', async () => as((await import('./irc/kind.js')).ircKind)],
  ['pubsub', async () => as((await import('./pubsub/kind.js')).pubsubKind)],
  ['raw', async () => as((await import('./raw/kind.js')).rawKind)],
]);

/** Every built-in kind, loaded (for the JSON Schema, docs/errors.md and tests). */
export async function loadBuiltinKinds(): Promise<Map<string, ServiceKind>> {
  const entries = await Promise.all([...builtinKinds].map(async ([name, load]) => [name, await load()] as const));
  return new Map(entries);
}
