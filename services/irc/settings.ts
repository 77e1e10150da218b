import { isDeepStrictEqual } from 'node:util';
import type { ChannelSpec } from './channel-joins.js';
import type { OutgoingQueueOptions } from './outgoing-queue.js';
import type { IrcConfig } from './schema.js';

/** The parsed `server`: host and port. */
export function parseServer(server: string, tls: boolean): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(server);
  const host = m?.[1] ?? m?.[2] ?? server;
  return { host, port: m?.[3] === undefined ? (tls ? 6697 : 6667) : Number(m[3]) };
}

/** The channels of a config, with where each is written. */
export function channelSpecs(config: IrcConfig): ChannelSpec[] {
  return config.channels.map((c, index) => (typeof c === 'string' ? { name: c, key: undefined, index } : { name: c.name, key: c.key, index }));
}

/** What the outgoing queue takes from a config. */
export function queueLimits(config: IrcConfig): Pick<OutgoingQueueOptions, 'burst' | 'interval' | 'maxQueue' | 'relayMaxAge' | 'nickBytes'> {
  return {
    ...config.flood,
    relayMaxAge: config.relayMaxAge,
    // the prefix the server adds (nick!user@host) counts against 512 bytes: the longest nick the bot may get
    nickBytes: Math.max(config.nick.length, ...config.altNicks.map((n) => n.length)) + 3,
  };
}

/**
 * The fields a connection registers with: a change of one of them takes a new connection.
 * (`altNicks` only matter when `nick` is taken: they apply at the next connection.)
 */
export const CONNECTION_FIELDS = ['server', 'tls', 'nick', 'username', 'realname', 'password', 'sasl'] as const;

/** The top-level fields whose values differ between two configs, in the order of `next`. */
export function changedFields(previous: IrcConfig, next: IrcConfig): string[] {
  const before = previous as unknown as Record<string, unknown>;
  const after = next as unknown as Record<string, unknown>;
  const keys = new Set([...Object.keys(after), ...Object.keys(before)]);
  return [...keys].filter((key) => !isDeepStrictEqual(before[key], after[key]));
}

/** Whether two channel names are the same channel (IRC compares them case-insensitively). */
export function sameChannel(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Whether `list` has a channel named `name`. */
export function hasChannel(list: readonly ChannelSpec[], name: string): boolean {
  return list.some((c) => sameChannel(c.name, name));
}
