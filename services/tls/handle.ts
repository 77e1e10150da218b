import type { Server as TlsServer } from 'node:tls';
import type { ListenAddress } from '../../src/index.js';

/** What a tls service gives its dependents. */
export interface TlsHandle {
  /** The bound address; undefined until listening. */
  address(): ListenAddress | undefined;
  /** The bound address as an https URL. */
  readonly url: string | undefined;
  /** The https (or http2 secure) server while the service runs. */
  readonly server: TlsServer | undefined;
}
