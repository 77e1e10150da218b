import { HendrixError } from '../../src/errors/hendrix-error.js';
import type { CommonServiceConfig, ServiceContext } from '../../src/kinds/contract.js';
import { MemoryBackplane, type Backplane } from './backplane.js';
import type { PubsubConfig } from './schema.js';

/**
 * The backplane of a hub instance (the service, or its stand-in in another process): Redis
 * when configured — it already joins processes — else, when the graph runs in workers, the
 * channel to the hub's coordinator in the primary, else memory. Opens nothing.
 */
export async function createBackplane(ctx: ServiceContext<PubsubConfig>, config: PubsubConfig): Promise<Backplane> {
  const { name, log } = ctx;
  if (config.backplane === 'memory') {
    if (ctx.cluster === undefined) return new MemoryBackplane();
    const { ClusterBackplane } = await import('./cluster-backplane.js');
    return new ClusterBackplane(ctx.cluster, { log: log.child({ component: 'backplane' }) });
  }
  const { RedisBackplane } = await import('./redis-backplane.js');
  return new RedisBackplane(config.backplane, { log: log.child({ component: 'backplane' }), prefix: `hendrix:${name}` });
}

/**
 * Starts `backplane`, giving up a little before the orchestrator's startTimeout so that the
 * error says why (ECONNREFUSED, no welcome...): HX_ERR_PUBSUB_BACKPLANE for Redis,
 * HX_ERR_PUBSUB_CLUSTER for the coordinator.
 */
export async function startBackplane(ctx: ServiceContext<PubsubConfig>, config: PubsubConfig, backplane: Backplane, signal: AbortSignal): Promise<void> {
  const { name } = ctx;
  const clustered = config.backplane === 'memory' && ctx.cluster !== undefined;
  if (clustered) ctx.waiting('joining the hub across workers (its history from another instance)');
  // a controller and timer of our own: an AbortSignal.timeout() held only by AbortSignal.any()
  // can be garbage-collected before it fires (seen on Node 20: the start then hung to the timeout)
  const startTimeout = (config as Partial<CommonServiceConfig>).startTimeout ?? 0;
  const connecting = new AbortController();
  const giveUp = setTimeout(() => connecting.abort(), startTimeout > 0 ? Math.max(200, startTimeout - 300) : 10_000);
  const follow = (): void => connecting.abort();
  signal.addEventListener('abort', follow, { once: true });
  try {
    await backplane.start(connecting.signal);
  } catch (error) {
    const path = ['services', name, 'backplane'];
    if (clustered) throw new HendrixError('HX_ERR_PUBSUB_CLUSTER', { service: name, path, location: ctx.locate(['backplane']), message: `cannot join the hub across workers: ${(error as Error).message}`, cause: error });
    throw new HendrixError('HX_ERR_PUBSUB_BACKPLANE', { service: name, path, location: ctx.locate(['backplane']), message: `cannot connect to the backplane ${config.backplane}: ${(error as Error).message}`, cause: error });
  } finally {
    clearTimeout(giveUp);
    signal.removeEventListener('abort', follow);
  }
}
