/**
 * How deeply published data may nest arrays and objects. JSON.stringify, ajv and every
 * consumer of the data recurse on it: data nested thousands of levels deep overflows their
 * stack (it was reported as `unavailable` / 503 before this limit).
 */
export const MAX_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether the JSON text `text` nests arrays and objects more than `max` levels deep — a scan
 * without recursion or allocation, run before JSON.parse, that skips the insides of strings.
 * The text need not be valid JSON (JSON.parse judges that afterwards); a text shorter than
 * `max` characters cannot be too deep and is not scanned at all.
 */
export function nestedDeeperThan(text: string, max: number = MAX_DEPTH): boolean {
  const length = text.length;
  if (length <= max) return false;
  let depth = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i);
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** The index of the quote closing the string opened at `open` (the text's end when unclosed). */
function endOfString(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return text.length;
    // the quote is escaped when an odd number of backslashes precede it
    let backslashes = 0;
    for (let j = at - 1; j > open && text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}
