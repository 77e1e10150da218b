import type { ServiceContext } from '../../src/kinds/contract.js';
import type { InterfaceInfo } from './addon.js';
import { rawError } from './errors.js';
import { FrameBuilder } from './frame.js';
import { parseMac } from './mac.js';
import { parsePayload, renderedLength, type Payload } from './payload.js';
import { ethertypeOf, type RawConfig } from './schema.js';

/** The payload without `payload`: the message data. */
const DATA_ONLY: Payload = { kind: 'template', parts: ['data'], text: undefined };

/** The Wake-on-LAN target and SecureOn password, as bytes. */
export interface WakeSetup {
  readonly mac: Buffer | undefined;
  readonly password: Buffer | undefined;
}

/**
 * What a raw service builds its frames with: one config on one interface. A reload builds the
 * next one beside the running one and switches with one assignment, so a frame is always built
 * wholly from the old config or wholly from the new.
 */
export interface FrameSetup {
  readonly config: RawConfig;
  readonly info: InterfaceInfo;
  readonly builder: FrameBuilder;
  readonly payload: Payload;
  /** Whether the payload uses ${ts}: reading the clock for every frame costs when it does not. */
  readonly timed: boolean;
  readonly wake: WakeSetup | undefined;
}

/** What a setup's errors need from the service context. */
type Where = Pick<ServiceContext, 'name' | 'locate' | 'location'>;

/** The source MAC address of the frames: the configured one, else the interface's. */
export function sourceMac(config: Pick<RawConfig, 'source'>, info: Pick<InterfaceInfo, 'mac'> | undefined): Buffer {
  return config.source === undefined ? (info?.mac ?? Buffer.alloc(6)) : (parseMac(config.source) as Buffer);
}

/**
 * The header, the payload, and the check that the largest frame fits the MTU
 * (HX_ERR_RAW_FRAME_TOO_BIG otherwise). Opens nothing: a reload may throw it away.
 */
export function prepareFrames(ctx: Where, config: RawConfig, info: InterfaceInfo): FrameSetup {
  const builder = new FrameBuilder({
    destination: parseMac(config.destination) as Buffer,
    source: sourceMac(config, info),
    ethertype: ethertypeOf(config),
    vlan: config.vlan,
  });
  const wakeOnLan = config.wakeOnLan;
  const wake = wakeOnLan === undefined ? undefined : { mac: wakeOnLan.mac === undefined ? undefined : parseMac(wakeOnLan.mac), password: passwordBytes(wakeOnLan.password) };
  // the schema has parsed the payload already: a string (its problem) cannot reach here
  const parsed = config.payload === undefined ? DATA_ONLY : parsePayload(config.payload);
  const payload = typeof parsed === 'string' ? DATA_ONLY : parsed;
  const timed = payload.kind === 'template' && payload.parts.includes('ts');
  // the longest a frame gets without message data: 13 digits of ts, 16 of seq
  const length = wake !== undefined ? 6 + 16 * 6 + (wake.password?.length ?? 0) : renderedLength(payload, { ts: 1e12, seq: 1e15, data: Buffer.alloc(0), topic: '', id: '' });
  if (length > info.mtu) {
    throw rawError(ctx, 'HX_ERR_RAW_FRAME_TOO_BIG', `the payload is ${length} bytes, more than the MTU of ${config.interface} (${info.mtu} bytes)`, {
      path: [wake !== undefined ? 'wakeOnLan' : 'payload'],
      hint: `shorten the payload, or raise the MTU: ip link set ${config.interface} mtu ${length}`,
    });
  }
  return { config, info, builder, payload, timed, wake };
}

/** A SecureOn password: 6 bytes written as a MAC address, or 4 as an IPv4 address. */
function passwordBytes(text: string | undefined): Buffer | undefined {
  if (text === undefined) return undefined;
  if (text.includes('.')) return Buffer.from(text.split('.').map(Number));
  return parseMac(text);
}
