import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { pino, type Logger } from 'pino';
import type { PathSegment, SourceLocation } from '../../../src/errors/hendrix-error.js';
import { createSilentLogger } from '../../../src/log/logger.js';
import { commonServiceFields } from '../../../src/kinds/common-schema.js';
import type { ServiceContext } from '../../../src/kinds/contract.js';
import { httpSchema } from '../../../services/http/schema.js';
import { recordLifecycle } from '../../../src/testing/index.js';

/** The folder of the app fixtures. */
export const FIXTURES = fileURLToPath(new URL('../../../services/http/fixtures/', import.meta.url));

const testSchema = httpSchema.extend({ kind: z.string(), ...commonServiceFields });

/** The config a test context carries: the http fields plus the common ones. */
export type TestHttpConfig = z.output<typeof testSchema>;

/** A hand-made ServiceContext, with what the service reported back. */
export interface TestContext extends ServiceContext<TestHttpConfig> {
  /** Every ctx.crashed() call, in order. */
  readonly crashes: unknown[];
  /** What the service said it waits for (ctx.waiting), in order. */
  readonly waits: { reason: string; cause: unknown }[];
  /** Every path ctx.locate() was asked about. */
  readonly located: (readonly PathSegment[])[];
}

/** Options of createTestContext(). */
export interface TestContextOptions {
  /** Default: the fixtures folder. */
  baseDir?: string;
  /** Default: `web`. */
  name?: string;
  /** Default: a silent logger. */
  log?: Logger;
}

/**
 * A ServiceContext for an http service in tests: the partial config is validated (defaults
 * applied) as the manifest would; listen defaults to 127.0.0.1:0; peer() throws; crashed()
 * records; locate() answers a fake hendrix.yaml location.
 */
export function createTestContext(partial: Record<string, unknown> = {}, options: TestContextOptions = {}): TestContext {
  const config = testSchema.parse({ kind: 'http', listen: '127.0.0.1:0', ...partial });
  const located: (readonly PathSegment[])[] = [];
  const baseDir = options.baseDir ?? FIXTURES;
  const name = options.name ?? 'web';
  return {
    name,
    kind: 'http',
    config,
    log: options.log ?? createSilentLogger(),
    baseDir,
    location: { file: 'hendrix.yaml', line: 3, column: 3 },
    locate(path: readonly PathSegment[]): SourceLocation {
      located.push(path);
      return { file: 'hendrix.yaml', line: 4, column: 5 };
    },
    peer<T>(peerName: string): T {
      throw new Error(`test context: no peer ${peerName}`);
    },
    ...recordLifecycle(),
    located,
  };
}

/** A logger that keeps every line as an object, at every level. */
export function createCapturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'trace', base: undefined }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}
