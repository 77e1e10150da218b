import { z } from 'zod';
import { bool, duration, int, listen, number, size } from '../../src/kinds/fields.js';
import { PATTERN_HELP, checkPattern } from '../../src/net/topics.js';

/** A subscription or permission pattern: `chat.lobby`, `chat.*` (one segment), `chat.>` (the rest). */
const pattern = z
  .string()
  .superRefine((value, ctx) => {
    const problem = checkPattern(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${problem} (${PATTERN_HELP})`, input: value });
  })
  .describe('A topic pattern: segments separated by dots; `*` matches one segment, `>` (last) the rest.');

const patterns = (description: string) => z.array(pattern).describe(description);

const topicConfig = z.strictObject({
  history: int('How many recent messages of each matching topic are kept for `since` replays (0: none).').pipe(z.number().int().min(0).max(100_000)).default(0),
  ttl: duration('How long a kept message stays replayable (0: until pushed out by newer ones).').default(0),
  schema: z
    .string()
    .min(1)
    .optional()
    .describe('A JSON Schema file (relative to the manifest) every message published on matching topics must satisfy; others are refused with an error frame and delivered to nobody.'),
});

const tokenEntry = z.strictObject({
  token: z.string().min(8, 'a token needs at least 8 characters').describe('The secret a client presents (query ?token=, Authorization: Bearer, or an auth frame). Use ${VAR} to keep it out of the file.'),
  publish: patterns('Patterns this token may publish on.').default([]),
  subscribe: patterns('Patterns this token may subscribe to.').default([]),
  name: z.string().optional().describe('A name for logs (the token itself is never logged).'),
});

const jwtConfig = z
  .strictObject({
    secret: z.string().min(16, 'an HMAC secret needs at least 16 characters').optional().describe('The HMAC secret (HS256/384/512) tokens are signed with; use ${VAR}.'),
    publicKey: z.string().min(1).optional().describe('A PEM public key file (RS*, PS*, ES*, EdDSA), relative to the manifest.'),
    algorithms: z.array(z.string()).optional().describe('The accepted algorithms. Default: HS256 with `secret`; RS256, PS256, ES256 and EdDSA with `publicKey`.'),
    issuer: z.string().optional().describe('The `iss` a token must carry.'),
    audience: z.string().optional().describe('The `aud` a token must carry.'),
    publishClaim: z.string().default('publish').describe('The claim listing the patterns a token may publish on.'),
    subscribeClaim: z.string().default('subscribe').describe('The claim listing the patterns a token may subscribe to.'),
  })
  .superRefine((jwt, ctx) => {
    if ((jwt.secret === undefined) === (jwt.publicKey === undefined)) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'give either `secret` or `publicKey`' });
  });

const auth = z
  .strictObject({
    tokens: z.array(tokenEntry).default([]).describe('Static tokens with the patterns each may publish and subscribe.'),
    jwt: jwtConfig.optional().describe('JSON Web Tokens: the patterns come from the token claims.'),
    anonymous: z
      .strictObject({ publish: patterns('Patterns anyone may publish on.').default([]), subscribe: patterns('Patterns anyone may subscribe to.').default([]) })
      .prefault({})
      .describe('What a client without a token may do (default: nothing).'),
    authTimeout: duration('How long a client connected without a token has to send an auth frame.').default(10_000),
  })
  .describe('Who may publish and subscribe to what. Without `auth` everyone may do everything.');

/**
 * The hub-wide bounds on what clients can make the hub hold. With these defaults (and the other
 * defaults), nothing a client sends grows the hub's memory by more than 64 MB: see "Limits and
 * buffers" in docs/pubsub-protocol.md.
 */
const limits = z
  .strictObject({
    historyBytes: size('The bytes of kept messages of all topics together (history); over it, the oldest messages of the least recently published topics are dropped.').default(32 * 1024 * 1024),
    topics: int('How many topics the hub knows at once (each has an id counter, and kept messages if it keeps history); over it, the least recently published topic is forgotten.').pipe(z.number().int().min(1)).default(10_000),
    topicIdle: duration('How long a topic with no kept messages is remembered after its last message; then it is forgotten (a `since` from before says lost).').default(5 * 60_000),
    publishRate: number('Publishes per second one connection (WebSocket, or HTTP keep-alive) may make, on average; over it they are refused with `rate_limited` (HTTP 429), and a client that keeps going is closed with 1008 (0: no limit).').default(1_000),
    publishBurst: int('How many publishes one connection may make at once before `publishRate` applies.').pipe(z.number().int().min(1)).default(5_000),
  })
  .prefault({})
  .describe('Hub-wide limits on history, topics and publish rate; each is logged once when it bites.');

/** The config of a `pubsub` service: a WebSocket pub/sub hub. */
export const pubsubSchema = z
  .strictObject({
    attach: z.string().min(1).optional().describe('The http service whose server (and every tls listener serving it) takes the hub\'s WebSocket upgrades at `path`.'),
    listen: listen('Where the hub listens on its own, instead of `attach`: a port, "host:port" or a unix socket path.').optional(),
    path: z.string().regex(/^\//, 'a path starts with /').default('/hub').describe('The URL path of the WebSocket endpoint; HTTP publish is POST {path}/publish/{topic}.'),
    topics: z.record(pattern, topicConfig).default({}).describe('Per topic pattern: history, ttl and schema. The first pattern (in file order) matching a topic applies.'),
    auth: auth.optional(),
    origins: z.array(z.string()).optional().describe('The Origin headers allowed to connect (browsers); others get 403. Default: any. Clients sending no Origin (servers) are allowed.'),
    backplane: z
      .union([z.literal('memory'), z.string().regex(/^rediss?:\/\//, 'expected memory or a redis://host:port URL')])
      .default('memory')
      .describe('memory: one process. redis://host:port: every hub using that Redis shares topics (see docs/pubsub-backplane.md).'),
    httpPublish: bool('Whether POST {path}/publish/{topic} publishes (same auth as the WebSocket).').default(true),
    maxPayload: size('The largest frame a client may send; a bigger one closes that connection with 1009.').default(64 * 1024),
    maxSubscriptions: int('Subscriptions per connection.').pipe(z.number().int().min(1)).default(100),
    maxConnections: int('Open WebSocket connections; more are refused with 503.').pipe(z.number().int().min(1)).default(10_000),
    maxBuffered: size('Bytes waiting to be sent to one connection before it counts as a slow consumer.').default(1024 * 1024),
    slowConsumer: z.enum(['drop', 'close']).default('close').describe('A slow consumer\'s new messages are dropped (and counted), or it is closed with 1008.'),
    heartbeat: duration('How often clients are pinged; one that did not answer the last ping is terminated (0: off).').default(30_000),
    limits,
  })
  .superRefine((config, ctx) => {
    if ((config.attach === undefined) === (config.listen === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['attach'], message: 'give either `attach: <http service>` or `listen`' });
    }
  });

/** The validated config of a `pubsub` service. */
export type PubsubConfig = z.output<typeof pubsubSchema>;
/** The validated `auth` section. */
export type AuthConfig = z.output<typeof auth>;
/** The validated `limits` section. */
export type LimitsConfig = z.output<typeof limits>;
/** One validated `topics` entry. */
export type TopicConfig = z.output<typeof topicConfig>;
