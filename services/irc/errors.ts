import { ircCodes } from './codes.js';

/** A code of this kind's table. */
type ErrorCode = keyof typeof ircCodes;
import { HendrixError, type PathSegment, type SourceLocation } from '../../src/errors/hendrix-error.js';

/** Where an irc service is declared: its name and how to locate its config paths. */
export interface IrcErrorSite {
  readonly name: string;
  locate(path: readonly PathSegment[]): SourceLocation | undefined;
}

/** A HendrixError about `path` of the service's config: `services.<name>.<path>` with its file:line (and other places it concerns). */
export function ircError(site: IrcErrorSite, code: ErrorCode, path: readonly PathSegment[], message: string, cause?: unknown, related?: HendrixError['related']): HendrixError {
  const location = site.locate(path);
  return new HendrixError(code, {
    service: site.name,
    path: ['services', site.name, ...path],
    message,
    ...(location === undefined ? {} : { location }),
    ...(cause === undefined ? {} : { cause }),
    ...(related === undefined ? {} : { related }),
  });
}

/** The first line of an error's message (module loaders put a stack below it). */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
