import type { Logger } from 'pino';
import type { PathSegment, SourceLocation } from '../../src/errors/hendrix-error.js';
import { createSilentLogger } from '../../src/log/logger.js';
import type { ServiceContext } from '../../src/kinds/contract.js';
import { recordLifecycle } from '../../src/testing/index.js';

/** A hand-made context for one service of a kind, with what it reported back. */
export interface KindTestContext<Config> extends ServiceContext<Config> {
  /** Every ctx.crashed() call, in order. */
  readonly crashes: unknown[];
  /** What the service said it waits for (ctx.waiting), in order. */
  readonly waits: { reason: string; cause: unknown }[];
}

/** Where and how a hand-made context says it stands. */
export interface KindContextOptions {
  /** The instance name. */
  name: string;
  /** The manifest folder relative paths resolve against. */
  baseDir: string;
  /** What ctx.peer(name) returns; any other name throws. Default: none. */
  peers?: Record<string, unknown> | undefined;
  /** Default: a silent logger. */
  log?: Logger | undefined;
  /** The line of the service's entry in the fake hendrix.yaml; a path below it is `line + 1 + depth`. */
  line: number;
}

/**
 * A ServiceContext for a kind's unit tests: `config` is already validated by the test's schema;
 * locate() answers a fake hendrix.yaml position that grows with the path's depth, so tests can
 * check that an error points below the service; crashed() records.
 */
export function createKindContext<Config>(kind: string, config: Config, options: KindContextOptions): KindTestContext<Config> {
  const peers = options.peers ?? {};
  return {
    name: options.name,
    kind,
    config,
    log: options.log ?? createSilentLogger(),
    baseDir: options.baseDir,
    location: { file: 'hendrix.yaml', line: options.line, column: 3 },
    locate(path: readonly PathSegment[]): SourceLocation {
      return { file: 'hendrix.yaml', line: options.line + 1 + path.length, column: 5 };
    },
    peer<T>(name: string): T {
      if (!(name in peers)) throw new Error(`test context: no peer ${name}`);
      return peers[name] as T;
    },
    ...recordLifecycle(),
  };
}
