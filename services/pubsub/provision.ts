import { HendrixError } from '../../src/errors/hendrix-error.js';
import type { CommonServiceConfig, ProvisionContext } from '../../src/kinds/contract.js';
import { formatListen, isLoopback, type ListenAddress } from '../../src/kinds/fields.js';
import { readJwtPublicKey } from './auth.js';
import type { PubsubConfig } from './schema.js';
import { TopicSchemaCompiler } from './topic-rules.js';

/** The provision context of a `pubsub` service. */
type PubsubProvisionContext = ProvisionContext<PubsubConfig & CommonServiceConfig>;

/**
 * The plan-time checks of a `pubsub` service, through the code start uses (topic-rules.ts,
 * auth.ts): every topic schema file exists and compiles, the JWT public key file exists and
 * parses. A hub without `auth` reachable beyond loopback is a warning (HX_ERR_PUBSUB_OPEN).
 */
export async function provisionPubsub(ctx: PubsubProvisionContext): Promise<void> {
  const { config } = ctx;
  const context = { service: ctx.name, baseDir: ctx.baseDir, locate: (path: readonly (string | number)[]) => ctx.locate(path) };
  const compiler = new TopicSchemaCompiler(context);
  const checks: Promise<void>[] = Object.entries(config.topics).map(async ([pattern, topic]) => {
    if (topic.schema === undefined) return;
    const file = await ctx.need(topic.schema, 'schema', ['topics', pattern, 'schema'], { code: 'HX_ERR_PUBSUB_SCHEMA', what: `the schema of topics \`${pattern}\`` });
    if (file !== undefined) await ctx.check(() => compiler.compile(pattern, file));
  });
  const publicKey = config.auth?.jwt?.publicKey;
  if (publicKey !== undefined) {
    checks.push(
      (async () => {
        const file = await ctx.need(publicKey, 'jwt-key', ['auth', 'jwt', 'publicKey'], { code: 'HX_ERR_PUBSUB_AUTH_KEY' });
        if (file !== undefined) await ctx.check(() => readJwtPublicKey(file, context));
      })(),
    );
  }
  await Promise.all(checks);
  if (config.auth === undefined) warnWhenOpen(ctx);
}

/** Warns when a hub without auth takes connections from beyond this machine. */
function warnWhenOpen(ctx: PubsubProvisionContext): void {
  const { config } = ctx;
  if (config.listen !== undefined) {
    if (!isLoopback(config.listen)) {
      ctx.warn(new HendrixError('HX_ERR_PUBSUB_OPEN', { path: ['listen'], message: `hub \`${ctx.name}\` has no \`auth\` and listens on ${formatListen(config.listen, 'ws')}: anyone who reaches it may publish and subscribe to every topic` }));
    }
    return;
  }
  if (config.attach === undefined) return;
  const listen = ctx.peer(config.attach)?.config['listen'];
  if (!isListenAddress(listen) || isLoopback(listen)) return;
  ctx.warn(
    new HendrixError('HX_ERR_PUBSUB_OPEN', {
      path: ['attach'],
      message: `hub \`${ctx.name}\` has no \`auth\` and is attached to \`${config.attach}\`, which listens on ${formatListen(listen)}: anyone who reaches it may publish and subscribe to every topic`,
    }),
  );
}

function isListenAddress(value: unknown): value is ListenAddress {
  if (typeof value !== 'object' || value === null) return false;
  const address = value as Record<string, unknown>;
  return typeof address['path'] === 'string' || (typeof address['host'] === 'string' && typeof address['port'] === 'number');
}

