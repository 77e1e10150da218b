import { readFileSync } from 'node:fs';
import { HendrixError, formatPath, isHendrixError, type SourceLocation } from './hendrix-error.js';

/** How renderError draws errors. */
export interface RenderOptions {
  /** ANSI colors; default false. */
  color?: boolean;
  /**
   * The text of a file named in a location, for code frames. Default: the sources attached to
   * the error by attachSources(), else the file read from disk (relative to the process cwd).
   */
  source?: (file: string) => string | undefined;
  /** The word before the code: `error` (default) or `warning` for problems that do not stop a start. */
  label?: 'error' | 'warning';
}

/** One error for `--format json`: where it is, what it is, what to do. */
export interface ErrorJson {
  file: string | null;
  line: number | null;
  column: number | null;
  path: string | null;
  code: string;
  message: string;
  hint: string;
  service: string | null;
  related: { message: string; file: string | null; line: number | null; column: number | null }[];
}

const attached = new WeakMap<HendrixError, (file: string) => string | undefined>();

/** Attaches a source lookup to an error, so that renderError can draw code frames without one. */
export function attachSources<E extends HendrixError>(error: E, source: (file: string) => string | undefined): E {
  attached.set(error, source);
  return error;
}

/** The errors an error stands for: its aggregated errors (flattened), or itself. */
export function flattenErrors(error: HendrixError): HendrixError[] {
  return error.errors.length ? error.errors.flatMap(flattenErrors) : [error];
}

function readFromDisk(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

interface Paint {
  error(s: string): string;
  dim(s: string): string;
  caret(s: string): string;
  hint(s: string): string;
  bold(s: string): string;
}

function painter(color: boolean): Paint {
  const wrap = (open: string) => (s: string) => (color ? `\u001b[${open}m${s}\u001b[0m` : s);
  return { error: wrap('1;31'), dim: wrap('34'), caret: wrap('1;31'), hint: wrap('36'), bold: wrap('1') };
}

function where(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.column}`;
}

/** A code frame: the line before, the line, and a caret underline under the span. */
function codeFrame(loc: SourceLocation, text: string, paint: Paint): string[] {
  const lines = text.split(/\r?\n/);
  const line = lines[loc.line - 1];
  if (line === undefined) return [];
  const shown = (n: number) => (lines[n - 1] ?? '').replace(/\t/g, ' ').trimEnd();
  const first = Math.max(1, loc.line - 1);
  const width = String(loc.line).length;
  const gutter = (n?: number) => paint.dim(`${n === undefined ? ' '.repeat(width) : String(n).padStart(width)} |`);
  const column = Math.max(1, loc.column);
  let span = 1;
  if (loc.endLine === loc.line && loc.endColumn !== undefined && loc.endColumn > column) span = loc.endColumn - column;
  else if (loc.endLine !== undefined && loc.endLine > loc.line) span = Math.max(1, shown(loc.line).length - column + 1);
  const out = [`  ${gutter()}`];
  for (let n = first; n <= loc.line; n++) out.push(`  ${gutter(n)}${shown(n) ? ` ${shown(n)}` : ''}`);
  out.push(`  ${gutter()} ${' '.repeat(column - 1)}${paint.caret('^'.repeat(span))}`);
  return out;
}

function causeText(error: HendrixError): string | undefined {
  const cause = error.cause;
  if (isHendrixError(cause)) return `[${cause.code}] ${cause.message}`;
  if (cause instanceof Error && !error.message.includes(cause.message)) return cause.message.split('\n')[0];
  return undefined;
}

function renderOne(error: HendrixError, lookup: (file: string) => string | undefined, paint: Paint, label = 'error'): string {
  const out = [`${paint.error(`${label}[${error.code}]`)}${paint.bold(`: ${error.message}`)}`];
  const path = error.path?.length ? formatPath(error.path) : undefined;
  if (error.location) {
    out.push(`  ${paint.dim('-->')} ${where(error.location)}${path ? `  (${path})` : ''}`);
    const text = lookup(error.location.file);
    if (text !== undefined) out.push(...codeFrame(error.location, text, paint));
  } else if (path) out.push(`  ${paint.dim('-->')} ${path}`);
  const cause = causeText(error);
  if (cause) out.push(`  cause: ${cause}`);
  if (error.hint) out.push(`  ${paint.hint('hint:')} ${error.hint}`);
  if (error.related.length) {
    out.push('  related:');
    for (const r of error.related) out.push(`    ${r.message}${r.location ? `  ${paint.dim(where(r.location))}` : ''}`);
  }
  return out.join('\n');
}

/**
 * Renders an error for humans, the way rustc does: `error[CODE]: message`, the file:line:col
 * and manifest path, a code frame with a caret underline, the hint, and related places (every
 * edge of a cycle). An aggregated error renders each of its errors, then a summary line.
 * Never a stack trace; deterministic for the same input.
 */
export function renderError(error: HendrixError, options: RenderOptions = {}): string {
  const paint = painter(options.color ?? false);
  const primary = options.source ?? attached.get(error);
  // an app module's own file (a syntax error in it) is read from disk when no lookup has it
  const lookup = (file: string) => primary?.(file) ?? readFromDisk(file);
  const cache = new Map<string, string | undefined>();
  const cached = (file: string) => {
    if (!cache.has(file)) cache.set(file, lookup(file));
    return cache.get(file);
  };
  if (!error.errors.length) return renderOne(error, cached, paint, options.label);
  const parts = flattenErrors(error).map((e) => renderOne(e, cached, paint));
  parts.push(`${paint.error(`error[${error.code}]`)}${paint.bold(`: ${error.message}`)}`);
  return parts.join('\n\n');
}

/** The errors of an error as plain objects for `--format json` (aggregated errors flattened). */
export function renderErrorsJson(error: HendrixError): ErrorJson[] {
  return flattenErrors(error).map((e) => ({
    file: e.location?.file ?? null,
    line: e.location?.line ?? null,
    column: e.location?.column ?? null,
    path: e.path?.length ? formatPath(e.path) : null,
    code: e.code,
    message: e.message,
    hint: e.hint,
    service: e.service ?? null,
    related: e.related.map((r) => ({
      message: r.message,
      file: r.location?.file ?? null,
      line: r.location?.line ?? null,
      column: r.location?.column ?? null,
    })),
  }));
}

/** `services.web.listen` or `channels[0]` back to path segments. */
function parsePath(path: string): (string | number)[] {
  return (path.match(/\[\d+\]|[^.[\]]+/g) ?? []).map((seg) => (seg.startsWith('[') ? Number(seg.slice(1, -1)) : seg));
}

/** What errorToJson adds to an ErrorJson so that the error renders the same on the other side. */
type CrossingJson = ErrorJson & { endLine?: number; endColumn?: number; cause?: string };

function fromErrorJson(e: CrossingJson): HendrixError {
  const place = (file: string | null, line: number | null, column: number | null) => (file && line && column ? { file, line, column } : undefined);
  const location = place(e.file, e.line, e.column);
  const error = new HendrixError(e.code as `HX_ERR_${string}`, {
    message: e.message,
    hint: e.hint,
    ...(e.path ? { path: parsePath(e.path) } : {}),
    ...(e.service ? { service: e.service } : {}),
    ...(location ? { location: { ...location, ...(e.endLine ? { endLine: e.endLine } : {}), ...(e.endColumn ? { endColumn: e.endColumn } : {}) } } : {}),
    ...(e.related?.length ? { related: e.related.map((r) => ({ message: r.message, ...(place(r.file, r.line, r.column) ? { location: place(r.file, r.line, r.column)! } : {}) })) } : {}),
    // the cause as its line reads (causeText): an Error whose message is that line
    ...(e.cause ? { cause: new Error(e.cause) } : {}),
  });
  return error;
}

/**
 * The JSON form of an error as it crosses a process boundary (the control socket, a worker's
 * IPC): every error flattened, plus the one that stands for them all.
 */
export function errorToJson(error: HendrixError): { errors: ErrorJson[]; error: { code: string; message: string } } {
  const flat = flattenErrors(error);
  const errors = renderErrorsJson(error).map((json, i): CrossingJson => {
    const e = flat[i]!;
    const cause = causeText(e);
    return {
      ...json,
      ...(e.location?.endLine !== undefined ? { endLine: e.location.endLine } : {}),
      ...(e.location?.endColumn !== undefined ? { endColumn: e.location.endColumn } : {}),
      ...(cause ? { cause } : {}),
    };
  });
  return { errors, error: { code: error.code, message: error.message } };
}

/**
 * The HendrixError a JSON body made by errorToJson stands for (its code, message, hint and
 * place; several errors aggregated under the first one's code), or undefined when the body has
 * none. The exit code follows the code, as if the error had happened in this process.
 */
export function errorFromJson(body: unknown): HendrixError | undefined {
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const all = (errors as ErrorJson[]).map(fromErrorJson);
  const top = (body as { error?: { code?: unknown; message?: unknown } }).error;
  if (top && typeof top.code === 'string' && typeof top.message === 'string' && (all.length > 1 || top.code !== all[0]!.code)) {
    // several problems, or one under an aggregate (a manifest with a problem): the aggregate's code decides the exit
    return new HendrixError(top.code as `HX_ERR_${string}`, { message: top.message, errors: all });
  }
  if (all.length === 1) return all[0];
  return new HendrixError(all[0]!.code, { message: all[0]!.message, errors: all });
}
