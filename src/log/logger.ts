import { pino, type Logger, type DestinationStream } from 'pino';
import { formatPath, isHendrixError } from '../errors/hendrix-error.js';

export type { Logger } from 'pino';

/** The log levels the manifest accepts. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Options of the one root logger. */
export interface RootLoggerOptions {
  level?: (typeof LOG_LEVELS)[number];
  /** `pretty` for humans, `json` for machines; default: pretty when stdout is a TTY. */
  format?: 'json' | 'pretty';
  /** Where to write; default: stdout (fd 1), synchronously: a line is out when the call returns. */
  destination?: DestinationStream;
  /** Whether stdout is a terminal (decides the default format and colors). */
  isTTY?: boolean;
  /** A writable that receives the formatted lines instead of fd 1 (e.g. the CLI's live view gate). */
  output?: NodeJS.WritableStream;
}

/** Levels at which every error is logged with its stack. */
const DETAILED = new Set(['debug', 'trace']);

/**
 * The `err` serializer of a logger at `level`: a HendrixError (a user's mistake, a refused
 * port, a failed peer) is logged as its code, message, hint and place — no stack trace, which
 * says nothing to a user — unless the level is debug or trace (`compact`: as one line, for
 * the pretty format); any other error (an internal
 * bug, an app's own exception) keeps its stack always.
 */
export function errorSerializer(level: string, compact = false): (error: unknown) => unknown {
  const detailed = DETAILED.has(level);
  return (error: unknown) => {
    if (!isHendrixError(error) || error.code === 'HX_ERR_INTERNAL' || detailed) {
      const out = pino.stdSerializers.errWithCause(error as Error) as unknown as Record<string, unknown>;
      if (isHendrixError(error) && error.code === 'HX_ERR_INTERNAL') out.bug = 'this is a bug in hendrix; please report it with this log';
      return out;
    }
    const l = error.location;
    // on a terminal the rendered diagnostic follows; one line is enough here
    if (compact) return `[${error.code}] ${error.message}${l ? ` (${l.file}:${l.line}:${l.column})` : ''}`;
    return {
      type: 'HendrixError',
      code: error.code,
      message: error.message,
      ...(l ? { at: `${l.file}:${l.line}:${l.column}` } : {}),
      ...(error.path?.length ? { path: formatPath(error.path) } : {}),
      ...(error.hint ? { hint: error.hint } : {}),
      ...(error.cause instanceof Error && !error.message.includes(error.cause.message) ? { cause: error.cause.message } : {}),
      ...(error.errors.length ? { errors: error.errors.map((e) => `[${e.code}] ${e.message}`) } : {}),
    };
  };
}

/**
 * Builds the one root pino logger. Pretty output loads pino-pretty only when asked for, so
 * JSON deployments never pay for it.
 */
export async function createRootLogger(options: RootLoggerOptions = {}): Promise<Logger> {
  const level = options.level ?? 'info';
  const format = options.format ?? (options.isTTY ? 'pretty' : 'json');
  // errWithCause keeps a wrapped cause as its own field instead of appending its text to the message
  const base = { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, serializers: { err: errorSerializer(level, format === 'pretty') } } as const;
  if (format === 'pretty') {
    const { default: pretty } = await import('pino-pretty');
    const stream = pretty({
      colorize: options.isTTY ?? false,
      ignore: 'pid,hostname,kind,service,worker',
      translateTime: 'HH:MM:ss.l',
      // `[web] ready`, and in a worker process `[web w2] ready`
      messageFormat: (log: Record<string, unknown>, messageKey: string) => {
        const service = log.service === undefined ? '' : `[${String(log.service)}${log.worker === undefined ? '' : ` w${String(log.worker)}`}] `;
        return `${service}${String(log[messageKey] ?? '')}`;
      },
      sync: true,
      destination: options.output ?? 1,
    });
    return pino(base, options.destination ?? stream);
  }
  // Synchronous, so lines come out in the order they were logged, up to the exit. An
  // asynchronous destination hands each write to the libuv thread pool; flush() does not wait
  // for a write in flight (minLength 0), and pino's exit hook then writes the lines logged
  // since synchronously, ahead of it: `hendrix stopped` came out before a service's `stopped`
  // whenever the pool was busy (a journal, static files, DNS) as the graph stopped.
  return pino(base, options.destination ?? pino.destination({ dest: 1, sync: true }));
}

/** A logger that writes nothing, for tests and embedding. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Flushes buffered log lines, in order; call (and await) before the process exits. The default
 * destinations write synchronously and have nothing buffered; a destination given in the
 * options may buffer, and is flushed through its own flush(), never written past.
 */
export function flushLogger(logger: Logger, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    try {
      logger.flush(() => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      // a destination that is not ready yet has nothing to flush
      clearTimeout(timer);
      resolve();
    }
  });
}
