/**
 * MAC addresses as the manifest writes them: `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff`,
 * `aabb.ccdd.eeff` (Cisco) or `aabbccddeeff`, any case.
 */

/** How a MAC address may be written, for error messages. */
export const MAC_HELP = 'a MAC address such as 02:00:5e:10:00:01 (also 02-00-5e-10-00-01, 0200.5e10.0001 or 02005e100001)';

/** The broadcast address, the default destination. */
export const BROADCAST = 'ff:ff:ff:ff:ff:ff';

const FORMS = [/^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i, /^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/i, /^([0-9a-f]{12})$/i];

/** The six bytes of `text`, or undefined when it is not a MAC address in one of the accepted forms. */
export function parseMac(text: string): Buffer | undefined {
  const trimmed = text.trim();
  for (const form of FORMS) {
    const m = form.exec(trimmed);
    if (!m) continue;
    // the colon and dash forms must use one separator throughout
    if (form === FORMS[0] && new Set(trimmed.replace(/[0-9a-f]/gi, '')).size !== 1) return undefined;
    return Buffer.from(m.slice(1).join(''), 'hex');
  }
  return undefined;
}

/** `aa:bb:cc:dd:ee:ff`, lowercase: the one form logs and normalized configs use. */
export function formatMac(bytes: Uint8Array): string {
  return [...bytes.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Whether the address is a group (multicast or broadcast) address: the I/G bit of its first byte. */
export function isGroupMac(bytes: Uint8Array): boolean {
  return ((bytes[0] ?? 0) & 1) === 1;
}
