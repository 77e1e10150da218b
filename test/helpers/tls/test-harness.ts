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
  const config = testSchema.parse({ kind: 'tls', listen: '127.0.0.1:0', serves: 'web', ...partial });
  return createKindContext('tls', config, { name: options.name ?? 'secure', baseDir: options.baseDir, peers: options.peers, log: options.log, line: 7 });
}

/** An http service and a tls listener serving it, both started. */
export interface TlsPair {
  readonly web: HttpService;
  readonly tls: TlsService;
  readonly ctx: TlsTestContext;
  readonly port: number;
  readonly url: string;
}

const running = new Set<HttpService | TlsService>();

/** Starts the fixture app on an http service and a tls listener serving it (stopped by stopTls()). */
export async function startTls(
  partial: Record<string, unknown>,
  options: { baseDir: string; log?: Logger; app?: string; web?: Record<string, unknown> } = { baseDir: TLS_FIXTURES },
): Promise<TlsPair> {
  const web = new HttpService(createHttpContext({ app: options.app ?? `${TLS_FIXTURES}app.mjs`, ...options.web }));
  running.add(web);
  await web.start(AbortSignal.timeout(10_000));
  const ctx = createTlsContext(partial, { baseDir: options.baseDir, peers: { web: web.handle() }, ...(options.log ? { log: options.log } : {}) });
  const tls = new TlsService(ctx);
  running.add(tls);
  await tls.start(AbortSignal.timeout(20_000));
  const address = tls.handle().address();
  const port = address !== undefined && 'port' in address ? address.port : 0;
  return { web, tls, ctx, port, url: `https://127.0.0.1:${port}` };
}

/** Stops everything startTls() started, listeners first. */
export async function stopTls(): Promise<void> {
  const all = [...running];
  running.clear();
  for (const service of all.filter((s) => s instanceof TlsService)) await service.stop(AbortSignal.timeout(2_000));
  for (const service of all.filter((s) => s instanceof HttpService)) await service.stop(AbortSignal.timeout(2_000));
}
