import type { SenderStats } from './sender.js';

/** What a raw service gives its dependents (an app, a custom kind). */
export interface RawHandle {
  /**
   * Sends one frame, as for a hub message with `data` (see docs/raw.md: a string as text, bytes
   * as they are, `{ hex }`/`{ base64 }` decoded, other values as JSON; with wakeOnLan a MAC
   * address to wake). Without `data`, the configured payload. False when the frame was dropped
   * (queue full, too big, service not running).
   */
  send(data?: unknown): boolean;
  /** The interface the frames go out on; undefined until started. */
  readonly interface: { readonly name: string; readonly index: number; readonly mac: string; readonly mtu: number } | undefined;
  /** Frames sent, dropped and queued since the last start. */
  stats(): SenderStats;
}
