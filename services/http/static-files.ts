import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, relative, resolve, sep } from 'node:path';
import type { Logger } from 'pino';
import send from 'send';
import { HendrixError, formatPath, type PathSegment, type SourceLocation } from '../../src/errors/hendrix-error.js';
import { sendStatus } from './responses.js';

/** One static folder mounted at a URL prefix. */
export interface StaticMount {
  /** The URL prefix as it appears on the wire (percent-encoded), without a trailing slash unless `/`. */
  readonly prefix: string;
  /** The folder, absolute. */
  readonly dir: string;
  /** The folder with symlinks resolved, once it exists. */
  real: string | undefined;
  /** The key of the `static` entry as the manifest wrote it. */
  readonly field: string;
}

/** A request path that falls under a mount. */
export interface StaticMatch {
  readonly mount: StaticMount;
  /** The raw path after the prefix ('' or starting with '/'). */
  readonly rest: string;
  /** The raw path as requested, and the query string with its `?` ('' when none). */
  readonly path: string;
  readonly query: string;
}

/**
 * What became of a static request: answered (a file, a redirect, or a refusal), not found
 * here (the app may answer), or a method other than GET/HEAD (the app may answer, else 405).
 */
export type StaticOutcome = 'served' | 'next' | 'method';

const ENCODED_SEPARATOR = /%2f|%5c|%00/i;

function contains(root: string, target: string): boolean {
  return target === root || target.startsWith(root.endsWith(sep) ? root : root + sep);
}

async function realpathOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch {
    return undefined;
  }
}

async function isFile(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ?? false;
}

/**
 * The static folders of an http service. `send` does the HTTP part (types, ETag, Last-Modified,
 * 304, Range, HEAD); containment is checked here first, on the decoded path and again on the
 * real path after symlinks, so nothing outside a folder is ever served.
 */
export class StaticFiles {
  readonly mounts: readonly StaticMount[];
  readonly #log: Logger;

  constructor(folders: Readonly<Record<string, string>>, baseDir: string, log: Logger) {
    this.#log = log;
    this.mounts = Object.entries(folders)
      .map(([prefix, dir]) => {
        const trimmed = prefix.length > 1 ? prefix.replace(/\/+$/, '') || '/' : prefix;
        return { prefix: encodeURI(trimmed), dir: resolve(baseDir, dir), real: undefined, field: prefix };
      })
      .sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /**
   * Resolves each folder's real path. A folder that is missing or not a folder is
   * HX_ERR_HTTP_STATIC at its `static` entry, the same problem the plan's provision step
   * reports (a start without a plan still refuses it).
   */
  async init(at?: { readonly name: string; locate(path: readonly PathSegment[]): SourceLocation | undefined }): Promise<void> {
    for (const mount of this.mounts) {
      mount.real = await realpathOrUndefined(mount.dir);
      const info = mount.real === undefined ? undefined : await stat(mount.real).catch(() => undefined);
      if (info?.isDirectory()) continue;
      const path = ['static', mount.field];
      const location = at?.locate(path);
      throw new HendrixError('HX_ERR_HTTP_STATIC', {
        message: `\`${formatPath(path)}\` names ${mount.dir}, which ${info ? 'is not a folder' : 'does not exist'}`,
        ...(at ? { service: at.name, path: ['services', at.name, ...path] } : { path }),
        ...(location ? { location } : {}),
      });
    }
  }

  /** The longest mount whose prefix covers the request target, if any (no I/O, no URL parsing). */
  match(url: string | undefined): StaticMatch | undefined {
    if (url === undefined || url.charCodeAt(0) !== 47 /* '/' */) return undefined;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    for (const mount of this.mounts) {
      const p = mount.prefix;
      if (p === '/') return { mount, rest: path, path, query: q < 0 ? '' : url.slice(q) };
      if (path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47)) {
        return { mount, rest: path.slice(p.length), path, query: q < 0 ? '' : url.slice(q) };
      }
    }
    return undefined;
  }

  /** Serves a matched request from its folder, or says why not. */
  async serve(req: IncomingMessage, res: ServerResponse, match: StaticMatch): Promise<StaticOutcome> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return 'method';
    const { mount, rest } = match;
    // refuse what could name something outside the folder, before touching the disk
    if (rest.includes('\0') || rest.includes('\\') || ENCODED_SEPARATOR.test(rest)) return this.#refuse(res, 400, match);
    let decoded: string;
    try {
      decoded = decodeURIComponent(rest);
    } catch {
      return this.#refuse(res, 400, match);
    }
    const segments = decoded.split('/');
    for (const segment of segments) {
      if (segment === '..') return this.#refuse(res, 400, match);
      if (segment.length > 1 && segment.charCodeAt(0) === 46 /* '.' */) return 'next'; // dotfiles are hidden
    }
    const root = mount.real ?? (mount.real = await realpathOrUndefined(mount.dir));
    if (root === undefined) return 'next';

    const real = await realpathOrUndefined(join(root, ...segments));
    if (real === undefined) return 'next';
    if (!contains(root, real)) return this.#refuse(res, 404, match);
    const info = await stat(real).catch(() => undefined);
    if (info === undefined) return 'next';
    let file = real;
    if (info.isDirectory()) {
      const index = await realpathOrUndefined(join(real, 'index.html'));
      if (index === undefined || !contains(root, index) || !(await isFile(index))) return 'next';
      if (!decoded.endsWith('/')) {
        // `/docs` → `/docs/`, so that relative links in the index resolve; never `//host`
        res.statusCode = 301;
        res.setHeader('location', `${match.path.replace(/^\/+/, '/')}/${match.query}`);
        res.setHeader('content-length', 0);
        res.end();
        return 'served';
      }
      file = index;
    } else if (!info.isFile() || decoded.endsWith('/')) {
      return 'next';
    }
    return this.#send(req, res, root, file);
  }

  #refuse(res: ServerResponse, status: 400 | 404, match: StaticMatch): StaticOutcome {
    this.#log.debug({ path: match.path, status }, 'static path refused');
    sendStatus(res, status);
    return 'served';
  }

  #send(req: IncomingMessage, res: ServerResponse, root: string, file: string): Promise<StaticOutcome> {
    // send decodes its path argument: hand it the real path, each segment encoded
    const path = '/' + relative(root, file).split(sep).map(encodeURIComponent).join('/');
    return new Promise((resolveOutcome) => {
      let settled = false;
      const stream = send(req, path, { root, index: false, dotfiles: 'ignore' });
      stream.on('file', () => {
        settled = true;
        resolveOutcome('served');
      });
      stream.on('error', (error: { status?: number; statusCode?: number }) => {
        const status = error.status ?? error.statusCode ?? 500;
        if (!settled && status === 404 && !res.headersSent) {
          settled = true;
          resolveOutcome('next'); // gone between our stat and send's
          return;
        }
        if (!settled) {
          settled = true;
          resolveOutcome('served');
        }
        if (res.headersSent) res.destroy();
        else sendStatus(res, status, { keep: ['content-range'] });
      });
      stream.pipe(res);
    });
  }
}
