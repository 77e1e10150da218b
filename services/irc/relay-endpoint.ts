import type { Reference } from '../../src/kinds/contract.js';

/**
 * One end of a relay entry: a channel (`#ops`) or a topic of a pub/sub service
 * (`hub:alerts`). The part before the first colon names the service, which makes it an edge
 * of the graph.
 */
export type RelayEndpoint =
  | { readonly type: 'channel'; readonly channel: string }
  | { readonly type: 'hub'; readonly service: string; readonly topic: string };

/** A service name as the manifest allows it (src/manifest/root-schema.ts). */
const SERVICE = /^[A-Za-z][A-Za-z0-9_-]*$/;
/** A channel name: `#` or `&`, then no space, comma, colon, BEL, CR, LF or NUL. */
export const CHANNEL = /^[#&][^\s,:\x07\0]+$/;
/** A topic segment: anything but dots, wildcards and whitespace (the hub's own rule). */
const SEGMENT = /^[^.*>\s]+$/;

/**
 * Parses `from` or `to` of a relay entry. `from` may be a pattern (`hub:deploys.*`,
 * `hub:alerts.>`); `to` must be a plain topic.
 */
export function parseEndpoint(value: string, side: 'from' | 'to'): RelayEndpoint | { readonly problem: string } {
  if (value.startsWith('#') || value.startsWith('&')) {
    return CHANNEL.test(value) ? { type: 'channel', channel: value } : { problem: `not a channel name: ${JSON.stringify(value)} (no spaces, commas or colons)` };
  }
  const colon = value.indexOf(':');
  const expected = 'expected a channel (#ops) or <pubsub service>:<topic> (hub:alerts)';
  if (colon <= 0) return { problem: `${expected}, got ${JSON.stringify(value)}` };
  const service = value.slice(0, colon);
  const topic = value.slice(colon + 1);
  if (!SERVICE.test(service)) return { problem: `${expected}: ${JSON.stringify(service)} is not a service name` };
  const problem = topicProblem(topic, side === 'from');
  return problem === undefined ? { type: 'hub', service, topic } : { problem: `${JSON.stringify(value)}: ${problem}` };
}

function topicProblem(topic: string, pattern: boolean): string | undefined {
  if (topic.length === 0) return 'the topic is missing after the colon';
  const segments = topic.split('.');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    if (segment === '*' || segment === '>') {
      if (!pattern) return 'a relay publishes on one topic: no wildcards in `to`';
      if (segment === '>' && i !== segments.length - 1) return '`>` must be the last segment';
      continue;
    }
    if (!SEGMENT.test(segment)) return 'a topic is dot-separated segments without spaces (* for one segment, > at the end for the rest)';
  }
  return undefined;
}

/**
 * The pub/sub services a relay list names, with where: what the graph turns into edges. Each
 * is typed: the plan refuses, with HX_ERR_IRC_RELAY at the entry, one naming another kind.
 */
export function relayReferences(relay: readonly { from: string; to: string }[]): Reference[] {
  const out: Reference[] = [];
  relay.forEach((entry, index) => {
    for (const side of ['from', 'to'] as const) {
      const end = parseEndpoint(entry[side], side);
      if ('type' in end && end.type === 'hub') out.push({ path: ['relay', index, side], target: end.service, kinds: ['pubsub'], code: 'HX_ERR_IRC_RELAY' });
    }
  });
  return out;
}
