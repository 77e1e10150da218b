import { errorCodeInfo, type ErrorCode } from './codes.js';

/** A code of the core table, or one a kind declares (`HX_ERR_TLS_FILE`). */
export type HendrixErrorCode = ErrorCode | `HX_ERR_${string}`;

/** A place in a source file; line and column are 1-based. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
  endLine?: number;
  endColumn?: number;
}

/** One segment of a manifest path: a map key or an array index. */
export type PathSegment = string | number;

/** What a HendrixError may carry besides its code. */
export interface HendrixErrorOptions {
  /** The message; defaults to the code's title. */
  message?: string;
  /** The manifest path the error is about, e.g. ['services', 'web', 'listen']. */
  path?: readonly PathSegment[];
  /** Where in which file the offending value was written. */
  location?: SourceLocation;
  /** The service instance the error is about. */
  service?: string;
  /** What the user can do; defaults to the code's hint. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Other places that belong to this error (e.g. every edge of a cycle). */
  related?: readonly { message: string; location?: SourceLocation }[];
  /** Errors aggregated under this one (all manifest problems, every start failure). */
  errors?: readonly HendrixError[];
}

/** Renders a manifest path the way users write it: `services.web.listen`, `channels[0]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/**
 * The one error type of Hendrix: a stable code, the manifest path and source location it is
 * about, a hint, and an exit code taken from the code table.
 */
export class HendrixError extends Error {
  readonly code: HendrixErrorCode;
  readonly path: readonly PathSegment[] | undefined;
  readonly location: SourceLocation | undefined;
  readonly service: string | undefined;
  readonly #hint: string | undefined;
  readonly related: readonly { message: string; location?: SourceLocation }[];
  readonly errors: readonly HendrixError[];

  constructor(code: HendrixErrorCode, options: HendrixErrorOptions = {}) {
    super(options.message ?? errorCodeInfo(code)?.title ?? code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HendrixError';
    this.code = code;
    this.path = options.path;
    this.location = options.location;
    this.service = options.service;
    this.#hint = options.hint;
    this.related = options.related ?? [];
    this.errors = options.errors ?? [];
  }

  /** What the user can do: the given hint, or the code's (looked up late: a kind declares its codes when it loads). */
  get hint(): string {
    return this.#hint ?? errorCodeInfo(this.code)?.hint ?? '';
  }

  /** The process exit code this error calls for (1 for a code nobody declared). */
  get exitCode(): number {
    return errorCodeInfo(this.code)?.exit ?? 1;
  }

  /** A plain object for `--format json` and structured logs. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      path: this.path ? formatPath(this.path) : undefined,
      file: this.location?.file,
      line: this.location?.line,
      column: this.location?.column,
      service: this.service,
      hint: this.hint,
      related: this.related.length ? this.related : undefined,
      errors: this.errors.length ? this.errors.map((e) => e.toJSON()) : undefined,
      cause: this.cause instanceof Error ? this.cause.message : undefined,
    };
  }
}

/** True when `value` is a HendrixError (also across module copies). */
export function isHendrixError(value: unknown): value is HendrixError {
  return value instanceof HendrixError || (value instanceof Error && value.name === 'HendrixError' && 'code' in value);
}
