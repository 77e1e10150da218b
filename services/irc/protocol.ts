/**
 * Bits of the IRC protocol the session needs: the numerics that refuse a JOIN, how socket
 * errors read, and JOIN and PART lines for a channel list.
 */

/** A channel to join, as JOIN lines need it. */
interface JoinSpec {
  readonly name: string;
  readonly key: string | undefined;
}

/** Numerics that refuse a JOIN; params[1] is the channel. */
export const JOIN_REFUSALS: Readonly<Record<string, string>> = {
  '403': 'no such channel',
  '405': 'too many channels',
  '470': 'forwarded to another channel',
  '471': 'the channel is full (+l)',
  '473': 'the channel is invite-only (+i)',
  '474': 'the bot is banned from the channel (+b)',
  '475': 'wrong channel key (+k)',
  '476': 'bad channel name',
  '477': 'the channel needs a registered nick',
  '489': 'the channel needs TLS',
  '520': 'the channel is for operators only',
};

/** Socket error codes that mean "the network", not "the TLS handshake". */
export const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED']);

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'name lookup failed',
};

/** `ECONNREFUSED (connection refused)`, or the message of an error without a known code. */
export function describeSocketError(error: NodeJS.ErrnoException): string {
  const code = error.code;
  if (code !== undefined && ERRNO_TEXT[code] !== undefined) return `${code} (${ERRNO_TEXT[code]})`;
  return error.message;
}

/** JOIN lines for `channels`, keyed ones first (JOIN #a,#b keyA), each well under 512 bytes. */
export function joinLines(channels: readonly JoinSpec[]): string[] {
  const sorted = [...channels].sort((a, b) => Number(b.key !== undefined) - Number(a.key !== undefined));
  const lines: string[] = [];
  let names: string[] = [];
  let keys: string[] = [];
  const flush = (): void => {
    if (names.length > 0) lines.push(`JOIN ${names.join(',')}${keys.length ? ` ${keys.join(',')}` : ''}`);
    names = [];
    keys = [];
  };
  for (const channel of sorted) {
    if (names.join(',').length + keys.join(',').length + channel.name.length + (channel.key?.length ?? 0) > 400) flush();
    names.push(channel.name);
    if (channel.key !== undefined) keys.push(channel.key);
  }
  flush();
  return lines;
}

/** PART lines for `names` with `message`, each well under 512 bytes. */
export function partLines(names: readonly string[], message: string): string[] {
  const lines: string[] = [];
  let batch: string[] = [];
  const flush = (): void => {
    if (batch.length > 0) lines.push(`PART ${batch.join(',')} :${message}`);
    batch = [];
  };
  for (const name of names) {
    if (batch.join(',').length + name.length > 300) flush();
    batch.push(name);
  }
  flush();
  return lines;
}
