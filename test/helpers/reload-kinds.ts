import { createServer, type Server } from 'node:http';
import { z } from 'zod';
import { builtinKinds } from '../../services/index.js';
import { defineServiceKind } from '../../src/kinds/define-service-kind.js';
import { listen } from '../../src/kinds/fields.js';
import { createKindRegistry } from '../../src/kinds/registry.js';
import type { Service, ServiceContext, ServiceKind } from '../../src/kinds/contract.js';
import { listenOn } from '../../src/net/listen.js';

/** What the reload test kinds record, by service name: calls in order. */
export const reloadCalls: string[] = [];

type NoteConfig = { listen: { host: string; port: number } | { path: string }; text: string; variant: string; fail: 'never' | 'start' | 'reload'; from?: string | undefined; rebind: boolean };

/**
 * A test kind for reloads: an HTTP server answering `text` (or, with `from`, its dependency's
 * text prefixed), applying `text` and `fail` in place, replaced for `variant` and `listen`;
 * `fail` makes start or reload throw; `rebind: false` leaves out rebind().
 */
export const noteKind = defineServiceKind({
  kind: 'note',
  schema: z.object({
    listen: listen('Where it listens.'),
    text: z.string().default('hello').describe('What it answers.'),
    variant: z.string().default('a').describe('A field it cannot apply in place.'),
    fail: z.enum(['never', 'start', 'reload']).default('never').describe('Which call fails.'),
    from: z.string().optional().describe('A note service whose text it prefixes to its own.'),
    rebind: z.boolean().default(true).describe('Whether it implements rebind().'),
  }),
  references: ['from'],
  canReload: (change) => change.fields.every((f) => f[0] === 'text' || f[0] === 'fail'),
  listens: (config) => [{ path: ['listen'], address: config.listen }],
  create(ctx) {
    return new NoteService(ctx as unknown as ServiceContext<NoteConfig>);
  },
});

let serial = 0;

class NoteService implements Service {
  readonly id = ++serial;
  #server: Server | undefined;
  #config: NoteConfig;
  #peer: { text(): string } | undefined;
  rebind?: (peer: string, signal: AbortSignal) => Promise<void>;
  constructor(readonly ctx: ServiceContext<NoteConfig>) {
    this.#config = ctx.config;
    if (ctx.config.rebind) {
      this.rebind = async (peer: string) => {
        reloadCalls.push(`${ctx.name}#${this.id} rebind ${peer}`);
        this.#peer = ctx.peer(peer);
      };
    }
  }
  text(): string {
    return `${this.#peer ? `${this.#peer.text()}+` : ''}${this.#config.text}`;
  }
  async start(): Promise<void> {
    reloadCalls.push(`${this.ctx.name}#${this.id} start`);
    if (this.#config.fail === 'start') throw new Error('told to fail at start');
    if (this.#config.from) this.#peer = this.ctx.peer(this.#config.from);
    this.#server = createServer((_req, res) => res.end(`${this.text()} (${this.#config.variant}#${this.id})`));
    await listenOn(this.#server, this.#config.listen, { service: this.ctx.name, baseDir: this.ctx.baseDir, location: undefined });
  }
  async reload(next: unknown): Promise<void> {
    const config = next as NoteConfig;
    reloadCalls.push(`${this.ctx.name}#${this.id} reload ${config.text}`);
    if (config.fail === 'reload') throw new Error('told to fail at reload');
    this.#config = config;
  }
  async stop(): Promise<void> {
    reloadCalls.push(`${this.ctx.name}#${this.id} stop`);
    const server = this.#server;
    if (!server) return;
    server.closeIdleConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }
  handle(): { text(): string } {
    return { text: () => this.text() };
  }
  address(): string | undefined {
    const a = this.#server?.address();
    return a && typeof a === 'object' ? `http://127.0.0.1:${a.port}` : undefined;
  }
}

/** The built-in kinds plus `note`. */
export const reloadKinds = createKindRegistry([...builtinKinds, ['note', noteKind as unknown as ServiceKind] as const]);
