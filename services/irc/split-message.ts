/**
 * Cutting text into IRC lines. A line on the wire is at most 512 bytes with its CRLF, and the
 * server relays ours with our prefix (`:nick!user@host `) in front, so the text of one
 * PRIVMSG gets what is left of 512 after all of that. Newlines in the text start new lines
 * (never a new IRC command); NUL, which no IRC line may hold, is dropped.
 */

/** The longest IRC line, CRLF included (RFC 1459 section 2.3). */
export const IRC_LINE_BYTES = 512;

/** Room for `user@host` in the prefix the server adds: a 10-byte ident and a 63-byte host. */
const USER_HOST_BYTES = 10 + 1 + 63;

/**
 * How many bytes of text fit in one `command target :text` line that the server relays with
 * the prefix of a nick up to `nickBytes` long (never under 64, for absurd targets).
 */
export function textBytes(command: string, target: string, nickBytes: number): number {
  const prefix = 1 + nickBytes + 1 + USER_HOST_BYTES + 1; // ":" nick "!" user@host " "
  const fixed = prefix + Buffer.byteLength(command) + 1 + Buffer.byteLength(target) + 2 + 2; // " " target " :" ... CRLF
  return Math.max(64, IRC_LINE_BYTES - fixed);
}

let segmenter: Intl.Segmenter | undefined;

/** Graphemes of `text`; one longer than `max` bytes (stacked combining marks) comes as its code points. */
function* pieces(text: string, max: number): Generator<string> {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  for (const { segment } of segmenter.segment(text)) {
    if (Buffer.byteLength(segment) <= max) yield segment;
    else yield* segment;
  }
}

/**
 * Splits `text` into the lines to send: one per line of the text (CR, LF or CRLF; empty lines
 * dropped), each cut so that its UTF-8 form is at most `maxBytes`, at a grapheme boundary and
 * at a space when one is in the second half of the piece.
 */
export function splitMessage(text: string, maxBytes: number): string[] {
  const out: string[] = [];
  for (const line of text.replace(/\0/g, '').split(/\r\n|\r|\n/)) {
    if (line === '') continue;
    if (Buffer.byteLength(line) <= maxBytes) {
      out.push(line);
      continue;
    }
    let chunk = '';
    let bytes = 0;
    for (const piece of pieces(line, maxBytes)) {
      const size = Buffer.byteLength(piece);
      if (bytes + size > maxBytes) {
        const space = chunk.lastIndexOf(' ');
        if (space > 0 && space >= chunk.length / 2) {
          out.push(chunk.slice(0, space));
          chunk = chunk.slice(space + 1);
          bytes = Buffer.byteLength(chunk);
        }
        if (bytes + size > maxBytes) {
          if (chunk !== '') out.push(chunk);
          chunk = '';
          bytes = 0;
        }
      }
      chunk += piece;
      bytes += size;
    }
    if (chunk !== '') out.push(chunk);
  }
  return out;
}
