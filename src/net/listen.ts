import { lstat, unlink } from 'node:fs/promises';
import type { Server } from 'node:net';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { HendrixError } from '../errors/hendrix-error.js';
import type { SourceLocation } from '../errors/hendrix-error.js';
import { formatListen, type ListenAddress } from '../kinds/fields.js';
import { deferTakeOver, handoverKey, predecessorFor, registerListener } from './listen-handover.js';

/** Where a listen failure is reported. */
export interface ListenContext {
  readonly service: string;
  readonly baseDir: string;
  readonly location: SourceLocation | undefined;
  /** The scheme shown in messages (`https` for a TLS listener); default `http`. */
  readonly scheme?: string;
  /**
   * Which of the service's listeners this is (`redirect`), when it has several; default
   * `listen`. A new instance of the same service listening for the same role on the same
   * configured address takes over the running instance's socket (a reload replacing it).
   */
  readonly role?: string;
}

/** A unix socket path resolved against the base folder; TCP addresses as they are. */
export function resolveListen(address: ListenAddress, baseDir: string): ListenAddress {
  return 'path' in address ? { path: resolve(baseDir, address.path) } : address;
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
  ENOTFOUND: 'host name not found',
  ENOENT: 'folder of the socket does not exist',
};

/** What to do when a port below 1024 is refused (EACCES). */
export const PRIVILEGED_HINT =
  'ports below 1024 need privileges: run as root, give node the capability (setcap cap_net_bind_service=+ep "$(command -v node)"), or listen on a port above 1023 behind a forward';

/** True when something accepts connections on the unix socket at `path`. */
function socketIsLive(path: string): Promise<boolean> {
  return new Promise((done) => {
    const probe = connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      done(true);
    });
    probe.once('error', () => done(false));
  });
}

/**
 * Removes a unix socket file nobody listens on any more (left by a crash). A live socket or
 * a file that is not a socket is left alone: listen() then fails with EADDRINUSE.
 */
async function removeStaleSocket(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isSocket()) return;
  if (await socketIsLive(path)) return;
  await unlink(path).catch(() => undefined);
}

/**
 * How a port 0 becomes a port in a process of a graph with workers (set by src/workers): the
 * primary hands every process the same free port for one service's listener. node:cluster shares
 * one listening socket per address and port, and port 0 is one port to it: two services on
 * `127.0.0.1:0` would share one socket (and a connection for one reach the other).
 */
type PortZeroResolver = (key: string, host: string) => Promise<number>;
let portZero: PortZeroResolver | undefined;

/** Sets (or clears) how port 0 is resolved in this process: see PortZeroResolver. */
export function setPortZeroResolver(resolver: PortZeroResolver | undefined): void {
  portZero = resolver;
}

/** The address a listening server is bound to. */
export function boundAddress(server: Server): ListenAddress | undefined {
  const address = server.address();
  if (address === null) return undefined;
  if (typeof address === 'string') return { path: address };
  return { host: address.address, port: address.port };
}

/**
 * Makes `server` listen on `address` and resolves with the bound address; failures become
 * HX_ERR_LISTEN naming the address and the errno. When another instance of the same service
 * of the same graph listens there for the same role (a reload replacing it), `server` is
 * promised its socket instead and takes it when the reload commits (listen-handover.ts): the
 * port never refuses a connection in between.
 */
export async function listenOn(server: Server, address: ListenAddress, context: ListenContext): Promise<ListenAddress> {
  let target = resolveListen(address, context.baseDir);
  const key = handoverKey(context.service, context.role ?? 'listen', formatListen(target));
  const predecessor = key === undefined ? undefined : predecessorFor(key, server);
  try {
    if (key !== undefined && predecessor) {
      // the socket moves when the reload commits; until then the running instance serves
      deferTakeOver(key, server, predecessor, 'path' in target ? target.path : undefined);
      return boundAddress(predecessor) ?? target;
    }
    if ('path' in target) await removeStaleSocket(target.path);
    else if (target.port === 0 && portZero) target = { host: target.host, port: await portZero(`${context.service}/${context.role ?? 'listen'}/${target.host}`, target.host) };
    await new Promise<void>((done, fail) => {
      const onError = (error: Error): void => {
        server.off('listening', onListening);
        fail(error);
      };
      const onListening = (): void => {
        server.off('error', onError);
        done();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      if ('path' in target) server.listen({ path: target.path });
      else server.listen({ host: target.host, port: target.port });
    });
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code ?? 'error';
    const reason = error instanceof Error ? error.message : String(error);
    throw new HendrixError('HX_ERR_LISTEN', {
      service: context.service,
      path: ['services', context.service, 'listen'],
      location: context.location,
      message: `cannot listen on ${formatListen(target, context.scheme)}: ${errno} (${ERRNO_TEXT[errno] ?? reason})`,
      ...(errno === 'EACCES' && 'port' in target && target.port > 0 && target.port < 1024 ? { hint: PRIVILEGED_HINT } : {}),
      cause: error,
    });
  }
  if (key !== undefined) registerListener(key, server);
  return boundAddress(server) ?? target;
}
