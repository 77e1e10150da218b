import type { Logger } from 'pino';
import { z } from 'zod';
import { commonServiceFields } from '../../../src/kinds/common-schema.js';
import { createKindContext, type KindTestContext } from '../kind-context.js';
import type { HubHandle, HubMessage } from '../../../services/pubsub/handle.js';
import { matches } from '../../../src/net/topics.js';
import { loadRawAddon, type RawSocket } from '../../../services/raw/addon.js';
import { rawSchema } from '../../../services/raw/schema.js';
import { RawService, type RawServiceOptions } from '../../../services/raw/service.js';

const testSchema = rawSchema.safeExtend({ kind: z.string(), ...commonServiceFields });

/** The config a raw test context carries. */
export type TestRawConfig = z.output<typeof testSchema>;

/** A hand-made context for a raw service, with what it reported back. */
export type RawTestContext = KindTestContext<TestRawConfig>;

/** A raw config validated as the manifest would be: what a start has in ctx.config and what reload(next) is given. */
export function rawConfig(partial: Record<string, unknown>): TestRawConfig {
  return testSchema.parse({ kind: 'raw', ...partial });
}

/** Builds a raw context (validated like a manifest) whose peers are `options.peers`. */
export function createRawContext(partial: Record<string, unknown>, options: { peers?: Record<string, unknown>; log?: Logger; name?: string } = {}): RawTestContext {
  const config = rawConfig(partial);
  return createKindContext('raw', config, { name: options.name ?? 'beacon', baseDir: process.cwd(), peers: options.peers, log: options.log, line: 7 });
}

const running = new Set<RawService>();

/** Starts a raw service (stopped by stopRaw()). */
export async function startRaw(
  partial: Record<string, unknown>,
  options: { peers?: Record<string, unknown>; log?: Logger; service?: RawServiceOptions } = {},
): Promise<{ service: RawService; ctx: RawTestContext }> {
  const ctx = createRawContext(partial, options);
  const service = new RawService(ctx, options.service);
  running.add(service);
  await service.start(AbortSignal.timeout(5_000));
  return { service, ctx };
}

/** Stops every service startRaw() started. */
export async function stopRaw(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((s) => s.stop(AbortSignal.timeout(2_000))));
}

/** A frame as captured, with when it arrived. */
export interface CapturedFrame {
  readonly bytes: Buffer;
  readonly at: number;
}

/** The payload of an untagged frame as text, without the zeros that pad it. */
export function payloadText(frame: CapturedFrame): string {
  return frame.bytes.subarray(14).toString('utf8').replace(/\0+$/, '');
}

/** The EtherType of a frame, after its VLAN tag if it has one. */
export function ethertypeOfFrame(frame: Buffer): number {
  const outer = frame.readUInt16BE(12);
  return outer === 0x8100 || outer === 0x88a8 ? frame.readUInt16BE(16) : outer;
}

/**
 * Captures frames arriving on an interface with the addon's receive side (VLAN tags put back
 * as on the wire). Only frames passing `filter` are kept: IPv6 neighbour discovery and the
 * like also cross a fresh veth pair.
 */
export class Capture {
  readonly frames: CapturedFrame[] = [];
  /** A receive error, if one happened. */
  error: Error | undefined;
  readonly #socket: RawSocket;
  readonly #filter: (frame: Buffer) => boolean;
  #waiters = new Set<() => void>();

  constructor(iface: string, netnsPath: string, filter: (frame: Buffer) => boolean) {
    this.#filter = filter;
    this.#socket = new (loadRawAddon().RawSocket)(iface, { protocol: 0x0003, netns: netnsPath, receiveBuffer: 4 << 20 });
    this.#socket.startReceive((error, frames) => {
      if (error !== undefined) {
        this.error = error;
        return;
      }
      const at = performance.now();
      for (const bytes of frames ?? []) if (this.#filter(bytes)) this.frames.push({ bytes, at });
      for (const wake of this.#waiters) wake();
    });
  }

  /** Resolves with the first `n` frames once they are in; rejects after `ms`. */
  async take(n: number, ms = 3_000): Promise<CapturedFrame[]> {
    const deadline = performance.now() + ms;
    while (this.frames.length < n) {
      const left = deadline - performance.now();
      if (this.error !== undefined) throw this.error;
      if (left <= 0) throw new Error(`captured ${this.frames.length} of ${n} frames within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        const waiters = this.#waiters;
        waiters.add(done);
      });
    }
    return this.frames.slice(0, n);
  }

  /** The frames captured so far as hex strings. */
  hex(): string[] {
    return this.frames.map((f) => f.bytes.toString('hex'));
  }

  /** Forgets what was captured. */
  clear(): void {
    this.frames.length = 0;
  }

  close(): void {
    this.#socket.close();
  }
}

/** An in-memory stand-in of a pubsub hub's handle (exact topics and `*`/`>` patterns). */
export class MemoryHub implements HubHandle {
  readonly #listeners = new Set<{ pattern: string; listener: (message: HubMessage) => void }>();
  #seq = 0;
  /** How many times subscribe() was called (a subscription kept across a reload is not made again). */
  subscribeCalls = 0;

  /** How many subscriptions are open. */
  get subscriptions(): number {
    return this.#listeners.size;
  }

  /** The patterns of the open subscriptions, sorted. */
  get patterns(): string[] {
    return [...this.#listeners].map((l) => l.pattern).sort();
  }

  publish(topic: string, data: unknown): Promise<string> {
    this.#seq += 1;
    const message: HubMessage = { topic, id: `1:${this.#seq}`, data, ts: Date.now() };
    for (const { pattern, listener } of this.#listeners) if (matches(pattern, topic)) listener(message);
    return Promise.resolve(message.id);
  }

  subscribe(pattern: string, listener: (message: HubMessage) => void): () => void {
    this.subscribeCalls += 1;
    const entry = { pattern, listener };
    this.#listeners.add(entry);
    return () => void this.#listeners.delete(entry);
  }
}
