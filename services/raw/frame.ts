import { renderText, renderedLength, writePayload, type Payload, type PayloadValues } from './payload.js';

/** The smallest Ethernet frame without its FCS: shorter ones are padded with zeros. */
export const MIN_FRAME = 60;
/** The smallest 802.1Q-tagged frame without its FCS, so that it is still 60 bytes once a switch strips the tag. */
export const MIN_TAGGED_FRAME = 64;
/** The 802.1Q tag protocol identifier. */
export const TPID_8021Q = 0x8100;
/** The EtherType of Wake-on-LAN magic packets. */
export const ETHERTYPE_WAKE_ON_LAN = 0x0842;
/** IEEE 802 local experimental EtherType 1: the default, for frames of your own protocol. */
export const ETHERTYPE_EXPERIMENTAL = 0x88b5;

/** An 802.1Q tag: VLAN id, priority (PCP) and drop eligibility (DEI). */
export interface VlanTag {
  readonly id: number;
  readonly priority: number;
  readonly dei: boolean;
}

/** What goes before the payload of every frame of a service. */
export interface FrameHeader {
  readonly destination: Uint8Array;
  readonly source: Uint8Array;
  readonly ethertype: number;
  readonly vlan?: VlanTag | undefined;
}

/** The header bytes: destination, source, the 802.1Q tag when there is one, EtherType. */
export function encodeHeader(header: FrameHeader): Buffer {
  const tagged = header.vlan !== undefined;
  const bytes = Buffer.alloc(tagged ? 18 : 14);
  bytes.set(header.destination.subarray(0, 6), 0);
  bytes.set(header.source.subarray(0, 6), 6);
  let at = 12;
  if (header.vlan !== undefined) {
    const { id, priority, dei } = header.vlan;
    bytes.writeUInt16BE(TPID_8021Q, 12);
    bytes.writeUInt16BE(((priority & 7) << 13) | (dei ? 0x1000 : 0) | (id & 0x0fff), 14);
    at = 16;
  }
  bytes.writeUInt16BE(header.ethertype, at);
  return bytes;
}

/** The Wake-on-LAN magic packet payload: 6 × 0xff, the target MAC 16 times, then the SecureOn password if any. */
export function wakeOnLanPayload(mac: Uint8Array, password?: Uint8Array): Buffer {
  const pass = password ?? new Uint8Array(0);
  const bytes = Buffer.alloc(6 + 16 * 6 + pass.length, 0xff);
  for (let i = 0; i < 16; i++) bytes.set(mac.subarray(0, 6), 6 + i * 6);
  bytes.set(pass, 6 + 16 * 6);
  return bytes;
}

/**
 * Builds the frames of one service: a fixed header, a payload rendered per frame, padded with
 * zeros to the minimum frame size. A payload that never changes is built once and reused.
 */
export class FrameBuilder {
  readonly #header: Buffer;
  readonly #minimum: number;
  #fixed: Buffer | undefined;
  #fixedFor: Payload | undefined;

  constructor(header: FrameHeader) {
    this.#header = encodeHeader(header);
    this.#minimum = header.vlan === undefined ? MIN_FRAME : MIN_TAGGED_FRAME;
  }

  /** The header length: 14, or 18 with a VLAN tag. */
  get headerLength(): number {
    return this.#header.length;
  }

  /** The frame length for a payload of `payloadLength` bytes (padding included). */
  frameLength(payloadLength: number): number {
    return Math.max(this.#minimum, this.#header.length + payloadLength);
  }

  /** A frame carrying `payload` rendered with `values`; a static payload's frame is the same Buffer each time. */
  build(payload: Payload, values: PayloadValues): Buffer {
    if (payload.kind === 'static') {
      if (this.#fixed === undefined || this.#fixedFor !== payload) {
        this.#fixed = this.bytes(payload.bytes);
        this.#fixedFor = payload;
      }
      return this.#fixed;
    }
    if (payload.text !== undefined) return this.#text(renderText(payload.text, values));
    const length = renderedLength(payload, values);
    const frame = this.#allocate(length);
    const end = writePayload(payload, values, frame, this.#header.length);
    if (end < frame.length) frame.fill(0, end);
    return frame;
  }

  /** A frame carrying `text` (UTF-8); the common case of a short beacon needs no length pass. */
  #text(text: string): Buffer {
    const start = this.#header.length;
    // UTF-8 takes at most 3 bytes per UTF-16 unit: a text that surely fits the minimum frame skips byteLength()
    const length = start + text.length * 3 <= this.#minimum ? 0 : Buffer.byteLength(text);
    const frame = this.#allocate(length);
    const end = start + frame.write(text, start, 'utf8');
    for (let i = end; i < frame.length; i++) frame[i] = 0;
    return frame;
  }

  /** A frame carrying exactly `bytes` as its payload. */
  bytes(bytes: Uint8Array): Buffer {
    const frame = this.#allocate(bytes.length);
    frame.set(bytes, this.#header.length);
    frame.fill(0, this.#header.length + bytes.length);
    return frame;
  }

  #allocate(payloadLength: number): Buffer {
    const frame = Buffer.allocUnsafe(this.frameLength(payloadLength));
    frame.set(this.#header, 0);
    return frame;
  }
}
