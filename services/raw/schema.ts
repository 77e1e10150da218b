import { z } from 'zod';
import { SERVICE_NAME } from '../../src/manifest/root-schema.js';
import { bool, duration, int, number } from '../../src/kinds/fields.js';
import { checkPattern } from '../../src/net/topics.js';
import { ETHERTYPE_EXPERIMENTAL, ETHERTYPE_WAKE_ON_LAN } from './frame.js';
import { BROADCAST, MAC_HELP, formatMac, isGroupMac, parseMac } from './mac.js';
import { parsePayload } from './payload.js';

const HEX2 = '[0-9A-Fa-f]{2}';
/** The MAC address forms parseMac() accepts, as one pattern (editors check it too). */
const MAC_PATTERN = new RegExp(`^(?:${HEX2}(?::${HEX2}){5}|${HEX2}(?:-${HEX2}){5}|[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}|[0-9A-Fa-f]{12})$`);

/** A MAC address in any accepted form, normalized to `aa:bb:cc:dd:ee:ff`. */
function mac(description: string) {
  return z
    .string()
    .regex(MAC_PATTERN, `expected ${MAC_HELP}`)
    .transform((value) => formatMac(parseMac(value) as Buffer))
    .describe(description);
}

/** TPIDs of VLAN tags: not EtherTypes of a payload. */
const TAG_PROTOCOLS = new Set([0x8100, 0x88a8, 0x9100]);

const ethertype = z
  .union([z.number().int(), z.string().regex(/^(?:0[xX][0-9a-fA-F]{1,4}|\d{1,5})$/, 'expected an EtherType such as 0x88b5 or 34997').transform(Number)])
  .pipe(
    z
      .number()
      .min(0x0600, 'an EtherType is 0x0600 (1536) or more: smaller values are 802.3 length fields')
      .max(0xffff, 'an EtherType is at most 0xffff')
      .refine((value) => !TAG_PROTOCOLS.has(value), 'that is the tag protocol of a VLAN header: set `vlan` for the tag, and here the EtherType of what follows it'),
  )
  .describe(
    'The EtherType of the frames: a number or hex string (0x88b5). Default: 0x88b5 (IEEE 802 local experimental), 0x0842 with wakeOnLan. 0x0600 to 0xffff; VLAN tags go in `vlan`.',
  );

const vlanId = int('The VLAN id: 1 to 4094 (0 for a priority tag without a VLAN).').pipe(z.number().min(0).max(4094, 'a VLAN id is 0 to 4094 (4095 is reserved)'));

const vlan = z
  .union([
    vlanId.transform((id) => ({ id, priority: 0, dei: false })),
    z.strictObject({
      id: vlanId,
      priority: int('The priority code point (PCP): 0 (best effort) to 7.').pipe(z.number().min(0).max(7, 'a priority is 0 to 7')).default(0),
      dei: bool('The drop eligible indicator: a switch may drop these frames first under congestion.').default(false),
    }),
  ])
  .describe('Tags every frame with an 802.1Q VLAN header: a VLAN id, or { id, priority, dei }. Tagged frames are padded to 64 bytes.');

const wakeOnLan = z
  .strictObject({
    mac: mac('The MAC address of the machine to wake. Optional with `from`: a message whose data is a MAC address (or { mac }) wakes that machine.').optional(),
    password: z
      .string()
      .regex(/^(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5})$/, 'expected a SecureOn password of 6 bytes (aa:bb:cc:dd:ee:ff) or 4 bytes (192.168.1.1)')
      .optional()
      .describe('A SecureOn password appended to the magic packet: 6 bytes written as a MAC address, or 4 written as an IPv4 address.'),
  })
  .describe('Sends Wake-on-LAN magic packets (6 × 0xff, then the MAC 16 times) instead of `payload`: at start and `every` interval, and for each message of `from`.');

/** One `from` entry: `<hub service>:<topic or pattern>`. */
const fromEntry = z
  .string()
  .regex(new RegExp(`${SERVICE_NAME.source.replace(/\$$/, '')}:\\S+$`), 'expected "<hub service>:<topic>", e.g. "hub:alerts" or "hub:sensors.>"')
  .superRefine((value, ctx) => {
    const problem = checkPattern(value.slice(value.indexOf(':') + 1));
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe('"<hub service>:<topic>": a frame for each message published on the topic (`*` matches one segment, `>` the rest) of that pubsub service.');

/** The config of a `raw` service: an emitter of raw Ethernet frames on one interface. */
export const rawSchema = z
  .strictObject({
    interface: z
      .string()
      .regex(/^[^\s/:]{1,15}$/, 'expected an interface name (eth0, enp3s0, lo): 1 to 15 characters, no spaces, / or :')
      .describe('The network interface the frames go out on (`ip link` lists them). Needs CAP_NET_RAW.'),
    netns: z
      .string()
      .min(1)
      .optional()
      .describe('Open the socket inside this network namespace: a name from `ip netns` (/run/netns/NAME) or a path such as /proc/PID/ns/net. Needs CAP_SYS_ADMIN too.'),
    destination: mac('The destination MAC address of every frame (a message may not change it).').default(BROADCAST),
    source: mac('The source MAC address of every frame. Default: the MAC address of the interface.').optional(),
    ethertype: ethertype.optional(),
    vlan: vlan.optional(),
    payload: z
      .string()
      .optional()
      .describe(
        'The frame payload: text, "hex:de ad be ef", "base64:...", or a text template with $${ts} (ms since the epoch), $${seq} (frame number from 0), $${data}, $${topic} and $${id} (of the latest hub message). Write $$ in the manifest for the $ of a placeholder. Default: the message data. Short frames are padded with zeros to 60 bytes.',
      ),
    every: duration('Send a frame at start and then at this interval (a beacon): 1s, 250ms.').pipe(z.number().min(1, 'the interval is at least 1ms')).optional(),
    from: z
      .union([fromEntry, z.array(fromEntry).min(1)])
      .optional()
      .describe('Send one frame for each message published on a pub/sub hub topic: "hub:alerts", or a list. Each names a pubsub service: an edge of the graph.'),
    wakeOnLan: wakeOnLan.optional(),
    maxRate: number('The most frames sent per second, from every source together; frames above it wait in the queue.').pipe(z.number().positive('maxRate must be above 0')).default(1000),
    maxQueue: int('How many frames may wait to be sent (rate limit, full socket buffer); further frames are dropped with a warning.').pipe(z.number().min(1)).default(1000),
  })
  .superRefine((config, ctx) => {
    if (config.source !== undefined && isGroupMac(parseMac(config.source) as Buffer)) {
      ctx.addIssue({ code: 'custom', path: ['source'], message: `${config.source} is a multicast or broadcast address: a source address is one machine's (the low bit of its first byte is 0)` });
    }
    const payload = config.payload === undefined ? undefined : parsePayload(config.payload);
    if (typeof payload === 'string') ctx.addIssue({ code: 'custom', path: ['payload'], message: payload });
    if (config.wakeOnLan !== undefined) {
      if (config.payload !== undefined) ctx.addIssue({ code: 'custom', path: ['payload'], message: 'wakeOnLan builds the payload (the magic packet): remove `payload`' });
      if (config.wakeOnLan.mac === undefined && config.from === undefined) {
        ctx.addIssue({ code: 'custom', path: ['wakeOnLan', 'mac'], message: 'wakeOnLan needs the `mac` to wake (or `from`, whose messages name it)' });
      }
    }
    if (config.every !== undefined && 1000 / config.every > config.maxRate) {
      ctx.addIssue({ code: 'custom', path: ['every'], message: `every ${config.every}ms is ${Math.round(1000 / config.every)} frames/s, above maxRate ${config.maxRate}: raise maxRate or lengthen every` });
    }
  });

/** The validated config of a `raw` service. */
export type RawConfig = z.output<typeof rawSchema>;

/** The EtherType of the frames: the configured one, else 0x0842 for Wake-on-LAN, else 0x88b5. */
export function ethertypeOf(config: Pick<RawConfig, 'ethertype' | 'wakeOnLan'>): number {
  return config.ethertype ?? (config.wakeOnLan === undefined ? ETHERTYPE_EXPERIMENTAL : ETHERTYPE_WAKE_ON_LAN);
}

/** The `from` entries as a list, each with its manifest path. */
export function fromEntries(config: Pick<RawConfig, 'from'>): { hub: string; topic: string; path: (string | number)[] }[] {
  const list = config.from === undefined ? [] : typeof config.from === 'string' ? [config.from] : config.from;
  return list.map((entry, index) => {
    const colon = entry.indexOf(':');
    return { hub: entry.slice(0, colon), topic: entry.slice(colon + 1), path: typeof config.from === 'string' ? ['from'] : ['from', index] };
  });
}
