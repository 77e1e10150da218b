import { chmodSync, lstatSync, unlinkSync, type BigIntStats } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { HendrixError } from '../errors/hendrix-error.js';
import type { Logger } from '../log/logger.js';
import { checkControlPath } from './control-path.js';
import { compileRoutes, dispatchTracked, type ControlRoutes } from './control-routes.js';

export type { ControlHandler, ControlRequest, ControlResult, ControlRoutes, ControlJsonResult, ControlStreamResult } from './control-routes.js';

/** What createControlServer needs. */
export interface ControlServerOptions {
  /** The socket path: defaultControlPath(baseDir), or a `--control PATH`. */
  path: string;
  /** The routes: `{ 'GET /status': handler, 'POST /reload': handler }`. */
  routes: ControlRoutes;
  log: Logger;
  /** How long the stale-socket probe waits for an answer from a socket that accepted (default 2 s). */
  probeTimeoutMs?: number;
}

/** A control server: HTTP over a unix socket, owner only (mode 0600). */
export interface ControlServer {
  /** Listens; takes over a stale socket file, refuses a live one (HX_ERR_CONTROL_IN_USE). */
  listen(): Promise<void>;
  /** Stops listening, aborts the requests in flight and removes the socket file. */
  close(): Promise<void>;
  /** The absolute socket path. */
  readonly path: string;
}

/** What a probe of an existing socket file found: nobody (stale), or a live server and its pid. */
type Probe = { live: false } | { live: true; pid: number | undefined };

/** Asks the socket at `path` who it is (`GET /pid`); refused or absent means stale. */
function probe(path: string, timeoutMs: number): Promise<Probe> {
  return new Promise((resolve) => {
    const req = request({ socketPath: path, path: '/pid', method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let pid: number | undefined;
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { pid?: unknown };
          if (typeof body.pid === 'number') pid = body.pid;
        } catch {
          // something else answers there: live all the same, pid unknown
        }
        resolve({ live: true, pid });
      });
      res.on('error', () => resolve({ live: true, pid: undefined }));
    });
    // it accepted but says nothing: someone holds the socket, so it is not ours to remove
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED' || e.code === 'ENOENT' ? { live: false } : { live: true, pid: undefined }));
    req.end();
  });
}

/**
 * Binds `server` to `path` with umask 0177 around the bind, so that the socket file is born
 * 0600: chmod after the bind would leave a moment in which another user could connect (and
 * Node has no SO_PEERCRED to tell who connected). The bind happens within listen() in the
 * main thread; in a worker thread process.umask cannot be set, and the chmod after listen
 * plus the 0700 folder of the default path are what protect the socket.
 */
function bind(server: ReturnType<typeof createServer>, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    let previous: number | undefined;
    try {
      previous = process.umask(0o177);
    } catch {
      previous = undefined;
    }
    try {
      server.listen(path, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      if (previous !== undefined) process.umask(previous);
    }
  });
}

/**
 * Which file is at `path` (or described by `st`): device, inode and change time in
 * nanoseconds. The inode alone is not enough: a file system hands the inode of a removed
 * file to the next one created, often at once.
 */
function identity(from: string | BigIntStats): string | undefined {
  const st = typeof from === 'string' ? lstatSync(from, { bigint: true, throwIfNoEntry: false }) : from;
  return st ? `${st.dev}:${st.ino}:${st.ctimeNs}` : undefined;
}

function inUse(path: string, pid: number | undefined): HendrixError {
  return new HendrixError('HX_ERR_CONTROL_IN_USE', {
    message: `another hendrix runs for this manifest (${pid === undefined ? 'pid unknown' : `pid ${pid}`}; control socket ${path})`,
  });
}

/**
 * Creates the control server of a running instance: HTTP over a unix socket (mode 0600, in a
 * folder only the owner may enter), answering the route table given, plus `GET /` with the
 * pid and the routes (what a second instance asks to name the one that holds the socket).
 * Opens nothing until listen().
 */
export function createControlServer(options: ControlServerOptions): ControlServer {
  const { log } = options;
  const path = resolve(options.path);
  const routes = compileRoutes({
    'GET /': () => ({ body: { pid: process.pid, routes: ['GET /', 'GET /pid', ...Object.keys(options.routes)] } }),
    ...options.routes,
    // what a second instance asks to name the one holding the socket: not overridable
    'GET /pid': () => ({ body: { pid: process.pid } }),
  });
  const inFlight = new Set<AbortController>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => dispatchTracked(routes, req, res, inFlight, log));
  let ours: string | undefined;

  /**
   * After a failed bind — any error but EADDRINUSE is final. After EADDRINUSE: removes the socket file if nobody answers on it (left by an instance that
   * was killed: SIGKILL, a crash) and binds again. Only the very file that was probed is
   * removed (same identity), so that of two instances taking over one stale path at once, the
   * second does not delete the socket the first has just bound: it binds, fails, probes again
   * and finds it live.
   */
  async function takeOver(first: unknown): Promise<void> {
    let error = first;
    for (let attempt = 0; attempt < 3 && (error as NodeJS.ErrnoException).code === 'EADDRINUSE'; attempt++) {
      const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
      if (st && !st.isSocket()) {
        throw new HendrixError('HX_ERR_CONTROL_PATH', { message: `${path} exists and is not a socket; hendrix will not remove it`, hint: 'remove the file yourself, or pass another `--control PATH`' });
      }
      const found = await probe(path, options.probeTimeoutMs ?? 2000);
      if (found.live) throw inUse(path, found.pid);
      if (st && identity(path) === identity(st)) {
        log.info({ path }, 'control socket was stale: taking it over');
        unlinkSync(path);
      }
      try {
        await bind(server, path);
        return;
      } catch (again) {
        error = again;
      }
    }
    throw new HendrixError('HX_ERR_CONTROL_PATH', { message: `cannot listen on the control socket ${path}: ${(error as Error).message}`, cause: error });
  }

  async function listen(): Promise<void> {
    checkControlPath(path);
    try {
      await bind(server, path);
    } catch (error) {
      await takeOver(error);
    }
    chmodSync(path, 0o600);
    const st = lstatSync(path);
    if ((st.mode & 0o777) !== 0o600) {
      await close();
      throw new HendrixError('HX_ERR_CONTROL_PATH', { message: `the control socket ${path} has mode 0${(st.mode & 0o777).toString(8)}, not 0600` });
    }
    ours = identity(path);
    log.debug({ path }, 'control socket listening');
  }

  async function close(): Promise<void> {
    if (!server.listening) return;
    for (const controller of inFlight) controller.abort(new Error('the control server is closing'));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    // libuv unlinks the socket file as it closes; remove it in case it did not, but only if it
    // is still ours (a later instance may have taken a stale path over in the meantime)
    if (ours !== undefined && identity(path) === ours) unlinkSync(path);
    ours = undefined;
  }

  return { listen, close, path };
}
