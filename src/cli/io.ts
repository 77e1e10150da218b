import { HendrixError, isHendrixError } from '../errors/hendrix-error.js';
import { renderError } from '../errors/render.js';
import type { KindRegistry } from '../kinds/registry.js';
import type { PlanOptions } from '../runtime/plan.js';

/** What a command may touch of the outside world; main.ts builds it from the process. */
export interface CliIO {
  readonly cwd: string;
  readonly env: Record<string, string | undefined>;
  /** The kinds known by name: main.ts composes the built-in ones here. */
  readonly kinds: KindRegistry;
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean };
  /** Subscribes to SIGINT/SIGTERM; returns an unsubscribe function. */
  onSignal(listener: (signal: NodeJS.Signals) => void): () => void;
  /** Subscribes to SIGHUP (reload); returns an unsubscribe function. */
  onHangup(listener: () => void): () => void;
  /** The script that runs this CLI and Node's own flags: what a worker process is forked from. */
  readonly script?: { readonly path: string; readonly args: readonly string[]; readonly execArgv: readonly string[] } | undefined;
}

/** Prints an error for humans (never a stack trace for a user mistake) and returns its exit code. */
export function reportError(io: Pick<CliIO, 'stderr' | 'env'>, error: unknown): number {
  const color = Boolean(io.stderr.isTTY) && !io.env.NO_COLOR;
  if (isHendrixError(error)) {
    io.stderr.write(`${renderError(error, { color })}\n`);
    return error.exitCode;
  }
  const internal = new HendrixError('HX_ERR_INTERNAL', {
    message: `internal error: ${error instanceof Error ? error.message : String(error)}`,
    cause: error,
  });
  io.stderr.write(`${renderError(internal, { color })}\n`);
  if (error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
  return internal.exitCode;
}

/** The manifest files and plan options of a parsed command line. */
export function manifestArgs(
  io: CliIO,
  values: { file?: string[] | undefined; env?: string | undefined; set?: string[] | undefined },
): { files: string[]; options: PlanOptions } {
  const files = values.file?.length ? values.file : ['hendrix.yaml'];
  return {
    files,
    options: {
      cwd: io.cwd,
      env: values.env ?? (io.env.HENDRIX_ENV || undefined),
      set: values.set ?? [],
      environment: io.env,
      kinds: io.kinds,
    },
  };
}
