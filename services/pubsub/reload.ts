import type { HistoryLimits } from './history.js';
import { Authenticator, type AuthContext, type Grant } from './auth.js';
import type { Connection } from './connection.js';
import type { PubsubConfig } from './schema.js';
import { TopicRules } from './topic-rules.js';

/** What a reload reads and works out before it switches: once built, applying it cannot fail. */
export interface PreparedReload {
  readonly config: PubsubConfig;
  /** The `topics:` rules, every schema file read and compiled again. */
  readonly rules: TopicRules;
  /** The new authenticator; undefined when it would grant exactly what the running one grants. */
  readonly auth: Authenticator | undefined;
  /** What each open connection may do under the new auth, with the token it was checked with. */
  readonly grants: ReadonlyMap<Connection, { readonly token: string | undefined; readonly grant: Grant | undefined }>;
  /** The top-level config fields that differ (`files` when only file content did), for the log. */
  readonly changed: readonly string[];
}

/** What prepareReload() works from. */
export interface ReloadSource {
  readonly current: PubsubConfig;
  readonly next: PubsubConfig;
  readonly auth: Authenticator;
  readonly connections: Iterable<Connection>;
  /** Where problems are reported: the service, the manifest folder, locations. */
  readonly where: AuthContext;
  readonly signal: AbortSignal;
}

/** Fields a reload cannot change (canReloadPubsub answers false for them; can-reload.ts says why). */
const FIXED = ['listen', 'attach', 'backplane'] as const;

/**
 * Prepares an in-place reload of a hub: compiles the topic schemas and reads the JWT key again
 * (a missing or broken one rejects with its HendrixError at its manifest path, the running
 * config untouched), and, when auth changed, checks every connection's token under the new one.
 */
export async function prepareReload(source: ReloadSource): Promise<PreparedReload> {
  const { current, next, signal, where } = source;
  for (const field of FIXED) {
    // canReload said no: the core replaces the service instead, so this is a bug, not a user's mistake
    if (JSON.stringify(current[field]) !== JSON.stringify(next[field])) throw new Error(`a pubsub hub cannot change \`${field}\` in place`);
  }
  const rules = await TopicRules.create(next.topics, where);
  signal.throwIfAborted();
  const fresh = await Authenticator.create(next.auth, where);
  signal.throwIfAborted();
  const auth = fresh.signature === source.auth.signature ? undefined : fresh;
  const grants = new Map<Connection, { token: string | undefined; grant: Grant | undefined }>();
  if (auth !== undefined) {
    await Promise.all(
      [...source.connections].map(async (connection) => {
        const token = connection.token;
        const grant = token === undefined ? auth.anonymous() : await auth.verify(token).catch(() => undefined);
        grants.set(connection, { token, grant });
      }),
    );
    signal.throwIfAborted();
  }
  return { config: next, rules, auth, grants, changed: changedFields(current, next) };
}

/** The hub-wide history limits of a config. */
export function historyLimits(config: PubsubConfig): HistoryLimits {
  const { limits } = config;
  return { bytes: limits.historyBytes, topics: limits.topics, idle: limits.topicIdle };
}

/** The top-level fields whose values differ; `files` when none does (a schema or key file changed). */
function changedFields(current: PubsubConfig, next: PubsubConfig): string[] {
  const keys = new Set([...Object.keys(current), ...Object.keys(next)]);
  const changed = [...keys].filter((key) => JSON.stringify(current[key as keyof PubsubConfig]) !== JSON.stringify(next[key as keyof PubsubConfig]));
  return changed.length > 0 ? changed : ['files'];
}
