import { HendrixError } from '../../src/errors/hendrix-error.js';
import type { ListenAddress } from '../../src/kinds/fields.js';
import { checkPattern } from '../../src/net/topics.js';
import type { PubsubHandle } from './handle.js';
import { Hub, PublishRefused } from './hub.js';

/** What a hub's handle reads from its service, at each call (a hub that is not running has no Hub). */
export interface HandleSource {
  readonly name: string;
  hub(): Hub | undefined;
  connections(): number;
  bound(): ListenAddress | undefined;
}

/**
 * The handle a `pubsub` service gives its dependents: publish and subscribe through the same
 * checks as a client (refusals are HX_ERR_PUBSUB_REJECTED), stats and the bound address.
 */
export function makePubsubHandle(source: HandleSource): PubsubHandle {
  const { name } = source;
  const running = (): Hub => {
    const hub = source.hub();
    if (hub === undefined) throw new HendrixError('HX_ERR_PUBSUB_REJECTED', { service: name, message: `the hub ${name} is not running` });
    return hub;
  };
  return {
    publish: async (topic, data) => {
      const hub = running();
      try {
        return (await hub.publish(topic, data)).id;
      } catch (error) {
        if (error instanceof PublishRefused) throw new HendrixError('HX_ERR_PUBSUB_REJECTED', { service: name, message: `${error.code}: ${error.message}`, cause: error });
        throw error;
      }
    },
    subscribe: (pattern, listener) => {
      const bad = checkPattern(pattern);
      if (bad !== undefined) throw new HendrixError('HX_ERR_PUBSUB_REJECTED', { service: name, message: `bad_topic: ${bad}` });
      const hub = running();
      const subscriber = Hub.listener(listener);
      hub.subscribe(pattern, subscriber);
      return () => void hub.unsubscribe(pattern, subscriber);
    },
    stats: () => {
      const hub = source.hub();
      const retained = hub?.retained() ?? { topics: 0, messages: 0, bytes: 0, retained: 0 };
      return {
        connections: source.connections(),
        subscriptions: hub?.subscriptions ?? 0,
        published: hub?.stats.published ?? 0,
        delivered: hub?.stats.delivered ?? 0,
        dropped: hub?.stats.dropped ?? 0,
        topics: retained.topics,
        historyMessages: retained.messages,
        historyBytes: retained.bytes,
        retainedBytes: retained.retained,
      };
    },
    address: () => source.bound(),
  };
}
