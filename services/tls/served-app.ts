import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import type { HttpHandle, HttpLimits } from '../http/handle.js';
import type { AcmeChallenges } from './acme-challenges.js';
import type { TlsConnections } from './connections.js';
import { applyHttpLimits, updateHttpLimits } from './http-limits.js';
import type { RequestListener } from './tls-server.js';

/** Whether a request may reach the app (the listener's drain refuses some: connections.ts). */
export type AdmitRequest = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The request listener of a served app: its handler, with the HSTS header when there is one, behind `admit`. */
function requestListener(peer: HttpHandle, hsts: string | undefined, admit: AdmitRequest): RequestListener {
  const handle = peer.handleRequest;
  if (hsts === undefined) return (req, res) => void (admit(req, res) && handle(req, res));
  return (req, res) => {
    if (!admit(req, res)) return;
    res.setHeader('strict-transport-security', hsts);
    handle(req, res);
  };
}

/**
 * What a TLS listener holds on the http service it serves: the request handler (with HSTS),
 * the upgrade routing, the service's limits and, with ACME, the challenge interceptor. Each
 * moves while the listener runs — to another HSTS value (a reload), or to a new instance of
 * the served service (a rebind) — by swapping the server's listeners in one tick: requests
 * already dispatched finish on the handler they started on, the next get the new one.
 */
export class ServedApp {
  #peer: HttpHandle;
  #hsts: string | undefined;
  readonly #admit: AdmitRequest;
  #listener: RequestListener;
  #server: TlsServer | undefined;
  #http2 = false;
  #challenges: AcmeChallenges | undefined;
  #detachUpgrades: (() => void) | undefined;
  #detachLimits: (() => void) | undefined;
  #onLimits: ((limits: HttpLimits) => void) | undefined;
  /** Stops following the served service's limits (an in-place reload of it changes them). */
  #unfollowLimits: (() => void) | undefined;
  #removeIntercept: (() => void) | undefined;

  /** `admit` is asked before every request reaches the app (the listener's drain: connections.ts). */
  constructor(peer: HttpHandle, hsts: string | undefined, admit: AdmitRequest = () => true) {
    this.#peer = peer;
    this.#hsts = hsts;
    this.#admit = admit;
    this.#listener = requestListener(peer, hsts, admit);
  }

  /** The http service's handle in use. */
  get peer(): HttpHandle {
    return this.#peer;
  }

  /** The request listener to build the server with. */
  get listener(): RequestListener {
    return this.#listener;
  }

  /** Routes the server's upgrades to the served service and applies its limits (before it listens). */
  attach(server: TlsServer, http2: boolean): void {
    this.#server = server;
    this.#http2 = http2;
    this.#detachLimits = applyHttpLimits(server, this.#peer.limits, http2);
    this.#detachUpgrades = this.#peer.attachUpgrades(server);
    this.#followLimits();
  }

  /** Applies the served service's limits again whenever an in-place reload changes them. */
  #followLimits(): void {
    this.#unfollowLimits?.();
    const peer = this.#peer;
    this.#unfollowLimits = peer.onLimits?.((limits) => {
      const server = this.#server;
      if (server === undefined || peer !== this.#peer) return;
      this.#detachLimits?.();
      updateHttpLimits(server, limits);
      this.#detachLimits = applyHttpLimits(server, limits, this.#http2);
      this.#onLimits?.(limits);
    });
  }

  /** Also called with the served service's new limits (the listener's redirect servers follow them too). */
  alsoOnLimits(listener: (limits: HttpLimits) => void): void {
    this.#onLimits = listener;
  }

  /** Changes the Strict-Transport-Security value (undefined: none) for the next requests. */
  setHsts(hsts: string | undefined): void {
    if (hsts === this.#hsts) return;
    this.#hsts = hsts;
    this.#swapListener(requestListener(this.#peer, hsts, this.#admit));
  }

  /** Answers ACME http-01 challenges on the served service (undefined: stops answering). */
  setChallenges(challenges: AcmeChallenges | undefined): void {
    if (challenges === this.#challenges) return;
    this.#removeIntercept?.();
    this.#removeIntercept = challenges === undefined ? undefined : this.#peer.intercept((req, res) => challenges.respond(req, res));
    this.#challenges = challenges;
  }

  /**
   * Moves everything to `peer`, a new instance of the served service (or the old one back, on a
   * rollback); what was registered on the previous handle is unregistered. The sockets the
   * previous one's upgrade handlers own stay theirs (`connections` stops draining them).
   */
  rebind(peer: HttpHandle, connections: TlsConnections | undefined): void {
    if (peer === this.#peer) return;
    // before the swap: the previous handle is the one that knows which sockets it took over
    connections?.setUpgradedCheck((socket) => peer.isUpgraded(socket));
    const challenges = this.#challenges;
    this.setChallenges(undefined);
    this.#detachUpgrades?.();
    this.#detachLimits?.();
    this.#peer = peer;
    this.#swapListener(requestListener(peer, this.#hsts, this.#admit));
    const server = this.#server;
    if (server !== undefined) {
      updateHttpLimits(server, peer.limits);
      this.#detachLimits = applyHttpLimits(server, peer.limits, this.#http2);
      this.#detachUpgrades = peer.attachUpgrades(server);
      this.#followLimits();
    }
    this.setChallenges(challenges);
  }

  /** Unregisters everything from the served service (a stop). */
  detach(): void {
    this.setChallenges(undefined);
    this.#detachUpgrades?.();
    this.#detachUpgrades = undefined;
    this.#detachLimits?.();
    this.#detachLimits = undefined;
    this.#unfollowLimits?.();
    this.#unfollowLimits = undefined;
  }

  #swapListener(next: RequestListener): void {
    const server = this.#server;
    if (server !== undefined) {
      // both in one tick: no request finds the server without a listener
      server.off('request', this.#listener);
      server.on('request', next);
    }
    this.#listener = next;
  }
}
