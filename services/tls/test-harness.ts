import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { PathSegment, SourceLocation } from '../../src/errors/hendrix-error.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { commonServiceFields } from '../../src/runtime/common-schema.js';
import type { ServiceContext } from '../../src/runtime/contract.js';
import { HttpService } from '../http/service.js';
import { createTestContext as createHttpContext } from '../http/test-context.js';
import { tlsSchema } from './schema.js';
import { TlsService } from './service.js';

/** The folder of the tls test fixtures (an app reporting what TLS saw). */
export const TLS_FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

const testSchema = tlsSchema.safeExtend({ kind: z.string(), ...commonServiceFields });

/** The config a tls test context carries. */
export type TestTlsConfig = z.output<typeof testSchema>;

/** A hand-made context for a tls service, with what it reported back. */
export interface TlsTestContext extends ServiceContext<TestTlsConfig> {
  readonly crashes: unknown[];
}

/** Builds a tls context whose `serves` peer is `peers[name]`. */
export function createTlsContext(partial: Record<string, unknown>, options: { baseDir: string; peers: Record<string, unknown>; log?: Logger; name?: string }): TlsTestContext {
  const config = testSchema.parse({ kind: 'tls', listen: '127.0.0.1:0', serves: 'web', ...partial });
  const crashes: unknown[] = [];
  return {
    name: options.name ?? 'secure',
    kind: 'tls',
    config,
    log: options.log ?? createSilentLogger(),
    baseDir: options.baseDir,
    location: { file: 'hendrix.yaml', line: 7, column: 3 },
    locate(path: readonly PathSegment[]): SourceLocation {
      return { file: 'hendrix.yaml', line: 8 + path.length, column: 5 };
    },
    peer<T>(name: string): T {
      if (!(name in options.peers)) throw new Error(`test context: no peer ${name}`);
      return options.peers[name] as T;
    },
    crashed(error?: unknown): void {
      crashes.push(error);
    },
    crashes,
  };
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
