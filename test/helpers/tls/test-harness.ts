import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Logger } from 'pino';
import { commonServiceFields } from '../../../src/kinds/common-schema.js';
import { createKindContext, type KindTestContext } from '../kind-context.js';
import { HttpService } from '../../../services/http/service.js';
import { createTestContext as createHttpContext } from '../http/test-context.js';
import { tlsSchema } from '../../../services/tls/schema.js';
import { TlsService } from '../../../services/tls/service.js';

/** The folder of the tls test fixtures (an app reporting what TLS saw). */
export const TLS_FIXTURES = fileURLToPath(new URL('../../../services/tls/fixtures/', import.meta.url));

const testSchema = tlsSchema.safeExtend({ kind: z.string(), ...commonServiceFields });

/** The config a tls test context carries. */
export type TestTlsConfig = z.output<typeof testSchema>;

/** A hand-made context for a tls service, with what it reported back. */
export type TlsTestContext = KindTestContext<TestTlsConfig>;

/** Builds a tls context whose `serves` peer is `peers[name]`. */
export function createTlsContext(partial: Record<string, unknown>, options: { baseDir: string; peers: Record<string, unknown>; log?: Logger; name?: string }): TlsTestContext {
  const config = tlsConfig(partial);
  return createKindContext('tls', config, { name: options.name ?? 'secure', baseDir: options.baseDir, peers: options.peers, log: options.log, line: 7 });
}

/** A tls config validated as the test context's (listen 127.0.0.1:0, serves web): what a reload is given. */
export function tlsConfig(partial: Record<string, unknown>): TestTlsConfig {
  return testSchema.parse({ kind: 'tls', listen: '127.0.0.1:0', serves: 'web', ...partial });
}

/** An http service and a tls listener serving it, both started. */
export interface TlsPair {
  readonly web: HttpService;
  readonly tls: TlsService;
  readonly ctx: TlsTestContext;
  readonly port: number;
  readonly url: string;
}

/** A started tls service and what a test reads back from it. */
export interface TlsInstance {
  readonly tls: TlsService;
  readonly ctx: TlsTestContext;
  /** The port of its https listener. */
  readonly port: number;
  /** The port of its redirect listener, when it has one. */
  readonly redirectPort: number | undefined;
}

const running = new Set<HttpService | TlsService>();

let webCount = 0;

/**
 * Starts an http service running `app` (the fixture app by default) on 127.0.0.1:0; stopped by
 * stopTls(). Each has a name of its own: two instances of one name on one configured address
 * would be a service and its replacement, the second taking the first's socket over.
 */
export async function startWeb(app = `${TLS_FIXTURES}app.mjs`, partial: Record<string, unknown> = {}): Promise<HttpService> {
  const web = new HttpService(createHttpContext({ app, ...partial }, { name: `web${++webCount}` }));
  running.add(web);
  await web.start(AbortSignal.timeout(10_000));
  return web;
}

/**
 * Starts a tls service serving `peers.web` (the object is read on every ctx.peer() call: a test
 * swaps a handle in it to exercise rebind); stopped by stopTls(). Two instances with one name
 * and one configured address are a service and its replacement: the second takes the sockets over.
 */
export async function startTlsService(partial: Record<string, unknown>, options: { baseDir: string; peers: Record<string, unknown>; log?: Logger; name?: string }): Promise<TlsInstance> {
  const ctx = createTlsContext(partial, options);
  const tls = new TlsService(ctx);
  running.add(tls);
  await tls.start(AbortSignal.timeout(20_000));
  const address = tls.handle().address();
  const redirect = tls.redirectAddress();
  return {
    tls,
    ctx,
    port: address !== undefined && 'port' in address ? address.port : 0,
    redirectPort: redirect !== undefined && 'port' in redirect ? redirect.port : undefined,
  };
}

/** Starts the fixture app on an http service and a tls listener serving it (stopped by stopTls()). */
export async function startTls(
  partial: Record<string, unknown>,
  options: { baseDir: string; log?: Logger; app?: string; web?: Record<string, unknown> } = { baseDir: TLS_FIXTURES },
): Promise<TlsPair> {
  const web = await startWeb(options.app, options.web);
  const { tls, ctx, port } = await startTlsService(partial, { baseDir: options.baseDir, peers: { web: web.handle() }, ...(options.log ? { log: options.log } : {}) });
  return { web, tls, ctx, port, url: `https://127.0.0.1:${port}` };
}

/** Stops everything startTls(), startWeb() and startTlsService() started, listeners first. */
export async function stopTls(): Promise<void> {
  const all = [...running];
  running.clear();
  for (const service of all.filter((s) => s instanceof TlsService)) await service.stop(AbortSignal.timeout(2_000));
  for (const service of all.filter((s) => s instanceof HttpService)) await service.stop(AbortSignal.timeout(2_000));
}
