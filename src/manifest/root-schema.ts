import { z } from 'zod';
import { commonServiceFields } from '../kinds/common-schema.js';
import type { ServiceKind } from '../kinds/contract.js';
import { duration } from '../kinds/fields.js';

/** What a service name (a key under `services:`) must look like. */
export const SERVICE_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** The log levels of `logging.level`, most severe first. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The manifest format version: `1` (also written as the string "1"); default 1. */
export const versionSchema = z
  .union([z.literal(1), z.literal('1').transform(() => 1 as const)])
  .default(1)
  .describe('The manifest format version. Always 1.');

/** The `logging` section of the manifest. */
export const loggingSchema = z
  .strictObject({
    level: z.enum(LOG_LEVELS).default('info').describe('The lowest level logged: fatal, error, warn, info, debug, trace, or silent for none.'),
    format: z
      .enum(['json', 'pretty'])
      .optional()
      .describe('json: one JSON object per line; pretty: human-readable. Default: pretty on a terminal, json otherwise.'),
  })
  .prefault({})
  .describe('Logging for the whole graph.');

/** The `control` section: where `hendrix reload` (and the admin API) reach the running instance. */
export const controlSchema = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The unix socket `hendrix reload` reaches this instance through (mode 0600, owner only), relative to the manifest folder. Default: $XDG_RUNTIME_DIR/hendrix/<hash of the manifest folder>.sock, else /tmp/hendrix-<uid>/<hash>.sock. `hendrix up --control PATH` overrides it.',
      ),
  })
  .prefault({})
  .describe('The control socket of the running instance.');

/**
 * The `admin` section: the admin API (docs/admin-api.md) on a TCP listener besides the control
 * socket, and the dashboard. A TCP listener needs a token (checked in validate.ts, where the
 * error gets its manifest place).
 */
export const adminSchema = z
  .strictObject({
    listen: z
      .union([z.string().min(1), z.number().int().min(0).max(65535)])
      .optional()
      .describe(
        'Also serve the admin API over TCP at this address (`127.0.0.1:2019`; a bare port means 127.0.0.1). Every request must carry `Authorization: Bearer <token>`. Without it the admin API is only on the control socket (mode 0600).',
      ),
    token: z
      .string()
      .min(16, 'an admin token must be at least 16 characters')
      .optional()
      .describe('The bearer token the TCP admin listener requires (compared in constant time; use ${ADMIN_TOKEN} so it stays out of the file). Required with `listen`.'),
    dashboard: z
      .boolean()
      .default(false)
      .describe('Serve the live dashboard at `/` of the TCP admin listener (it asks for the token once). `hendrix dashboard` serves it without this, for the time it runs.'),
  })
  .prefault({})
  .describe('The admin API: status, metrics, events and operations of the running graph (docs/admin-api.md).');

/** `drainDelay`: how long readiness answers 503 before the drain of a stop begins. */
export const drainDelaySchema = duration(
  'On SIGTERM (or `hendrix stop`), how long `/readyz` answers 503 before the services begin to drain, so that a load balancer stops sending first: 0 (default), `5s` behind Kubernetes.',
).default(0);

/**
 * The `workers` setting: how many processes serve the graph. 1 is one process (the default);
 * `auto` is one per core (os.availableParallelism()).
 */
export const workersSchema = z
  .union([
    z.literal('auto'),
    z.union([z.number().int(), z.string().regex(/^\d+$/, 'expected an integer or auto').transform(Number)]).pipe(z.number().int().min(1).max(1024)),
  ])
  .default(1)
  .describe(
    'How many worker processes serve the graph: 1 (default) runs it in one process; N or `auto` (one per core) forks workers through node:cluster, under a primary that supervises them. Services that scale (http, tls, a hub attached to http) run in every worker on shared sockets; the others (irc, raw, a hub on its own port, custom kinds by default) run once. `hendrix up --workers N` overrides it. See docs/workers.md.',
  );

/** The description of the `kind` key for a built-in or custom kind. */
const KIND_DESCRIPTION =
  'The kind of service: a built-in kind, a relative path to a kind module (./my-kind.mjs), or an installed package exporting defineServiceKind(...).';

/**
 * The full zod schema of one service of `kind`: the kind's own fields plus `kind` and the
 * common fields (dependsOn, startTimeout, stopTimeout, restart). Unknown keys are errors unless
 * the kind's schema is a loose object on purpose.
 */
export function serviceSchema(kind: ServiceKind): z.ZodObject {
  const extended = kind.schema.safeExtend({ kind: z.string().describe(KIND_DESCRIPTION), ...commonServiceFields });
  // z.object() (catchall unset) strips unknown keys silently; the manifest wants them reported
  return (kind.schema._zod.def.catchall === undefined ? extended.strict() : extended) as unknown as z.ZodObject;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The zod schema of a whole manifest for the JSON Schema: `services` values are a union
 * discriminated on `kind` over the given (built-in) kinds, validated strictly, plus a fallback
 * branch for custom kinds (any `kind` that is not a built-in name; extra keys allowed).
 */
export function buildRootSchema(kinds: Iterable<readonly [string, ServiceKind]>) {
  const list = [...kinds];
  const builtins = list.map(([name, kind]) => {
    // `kind` first, so that editors offer it first
    const fields = Object.entries(serviceSchema(kind).shape).filter(([key]) => key !== 'kind');
    const kindField = z.literal(name).describe(kind.description ?? `A service of the built-in \`${name}\` kind.`);
    return z.strictObject({ kind: kindField, ...Object.fromEntries(fields) }).describe(kind.description ?? `A \`${name}\` service.`);
  });
  const notBuiltin = list.length ? `^(?!(?:${list.map(([name]) => escapeRegExp(name)).join('|')})$).+` : '^.+';
  const custom = z
    .looseObject({
      kind: z.string().regex(new RegExp(notBuiltin)).describe('A custom kind: a relative path to a kind module (./my-kind.mjs) or a package name.'),
      ...commonServiceFields,
    })
    .describe('A service of a custom kind; its own fields are checked when the kind module loads.');
  const [first, ...rest] = builtins;
  const service = first
    ? z.union([z.discriminatedUnion('kind', [first, ...rest]), custom])
    : custom;
  return z
    .strictObject({
      version: versionSchema,
      logging: loggingSchema,
      control: controlSchema,
      workers: workersSchema,
      admin: adminSchema,
      drainDelay: drainDelaySchema,
      services: z
        .record(z.string().regex(SERVICE_NAME), service)
        .describe('The services of the graph, keyed by instance name; `kind` says what each one is.'),
    })
    .describe('A Hendrix manifest: the network resources of an application, run as one graph.');
}
