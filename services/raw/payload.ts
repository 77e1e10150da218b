/**
 * The `payload` of a raw service: text, `hex:...`, `base64:...`, or a text template with
 * `${ts}`, `${seq}`, `${data}`, `${topic}` and `${id}`. The manifest interpolates `${VAR}` from
 * the environment first, so a manifest writes a placeholder as `$${seq}` (`$$` is a literal `$`).
 */

/** The placeholders a payload template may use. */
export const PLACEHOLDERS = ['ts', 'seq', 'data', 'topic', 'id'] as const;

/** One placeholder name. */
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** A placeholder of a text-only template (no `${data}`, which is bytes). */
export interface TextPlaceholder {
  readonly placeholder: Exclude<Placeholder, 'data'>;
}

/** A parsed payload: fixed bytes, or a template of fixed bytes and placeholders. */
export type Payload =
  | { readonly kind: 'static'; readonly bytes: Buffer }
  | {
      readonly kind: 'template';
      readonly parts: readonly (Buffer | Placeholder)[];
      /** The same template as text when it has no `${data}`: rendered as one string, which is faster. */
      readonly text: readonly (string | TextPlaceholder)[] | undefined;
    };

/** What a template's placeholders stand for in one frame. */
export interface PayloadValues {
  /** Milliseconds since the epoch when the frame was built. */
  readonly ts: number;
  /** The frame's number: 0 for the first frame after start, then 1, 2... */
  readonly seq: number;
  /** The message data as bytes (see dataBytes()); empty when there is none. */
  readonly data: Buffer;
  /** The topic of the message, or ''. */
  readonly topic: string;
  /** The hub's id of the message, or ''. */
  readonly id: string;
}

const HEX_SEPARATORS = /[\s:.-]/g;
const PLACEHOLDER = /\$\{([^}]*)\}/g;

/** Parses a payload as written in the manifest (after interpolation); a string says what is wrong. */
export function parsePayload(text: string): Payload | string {
  if (text.startsWith('hex:')) {
    const digits = text.slice(4).replace(HEX_SEPARATORS, '');
    if (!/^[0-9a-fA-F]*$/.test(digits)) return `hex payload holds a character that is not a hex digit: ${JSON.stringify(text.slice(4).trim().slice(0, 40))}`;
    if (digits.length % 2 !== 0) return `hex payload has an odd number of digits (${digits.length}): two digits per byte`;
    return { kind: 'static', bytes: Buffer.from(digits, 'hex') };
  }
  if (text.startsWith('base64:')) {
    const body = text.slice(7).replace(/\s/g, '');
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(body) || body.replace(/=+$/, '').length % 4 === 1) return 'base64 payload is not valid base64';
    return { kind: 'static', bytes: Buffer.from(body, 'base64') };
  }
  const source = text.startsWith('text:') ? text.slice(5) : text;
  const items: (string | { placeholder: Placeholder })[] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    const name = m[1] as string;
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      return `unknown placeholder \${${name}} in the payload: a template may use ${PLACEHOLDERS.map((p) => `\${${p}}`).join(', ')} (written $\${seq} in the manifest)`;
    }
    if (m.index > last) items.push(source.slice(last, m.index));
    items.push({ placeholder: name as Placeholder });
    last = m.index + m[0].length;
  }
  if (last < source.length) items.push(source.slice(last));
  if (items.every((item) => typeof item === 'string')) return { kind: 'static', bytes: Buffer.from(source, 'utf8') };
  const parts = items.map((item) => (typeof item === 'string' ? Buffer.from(item, 'utf8') : item.placeholder));
  const textOnly = items.every((item) => typeof item === 'string' || item.placeholder !== 'data');
  return { kind: 'template', parts, text: textOnly ? (items as (string | TextPlaceholder)[]) : undefined };
}

/** A text-only template rendered to its string. */
export function renderText(text: readonly (string | TextPlaceholder)[], values: PayloadValues): string {
  let out = '';
  for (const part of text) out += typeof part === 'string' ? part : values[part.placeholder];
  return out;
}

/**
 * Writes the payload into `target` at `offset` (which must have room: see renderedLength) and
 * returns the offset after it.
 */
export function writePayload(payload: Payload, values: PayloadValues, target: Buffer, offset: number): number {
  if (payload.kind === 'static') return offset + payload.bytes.copy(target, offset);
  let at = offset;
  for (const part of payload.parts) {
    if (typeof part !== 'string') at += part.copy(target, at);
    else if (part === 'data') at += values.data.copy(target, at);
    else at += target.write(String(values[part]), at, 'utf8');
  }
  return at;
}

/** How many bytes the payload takes with `values`. */
export function renderedLength(payload: Payload, values: PayloadValues): number {
  if (payload.kind === 'static') return payload.bytes.length;
  let total = 0;
  for (const part of payload.parts) {
    if (typeof part !== 'string') total += part.length;
    else if (part === 'data') total += values.data.length;
    else total += Buffer.byteLength(String(values[part]));
  }
  return total;
}

/**
 * The bytes a message's data stands for: a string as UTF-8 text, bytes as they are,
 * `{ hex: '...' }` or `{ base64: '...' }` decoded, anything else as JSON text. A string says
 * what is wrong with a `{ hex }` or `{ base64 }` object.
 */
export function dataBytes(data: unknown): Buffer | string {
  if (data === undefined) return Buffer.alloc(0);
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const keys = Object.keys(data);
    const only = keys.length === 1 ? keys[0] : undefined;
    const value = only === undefined ? undefined : (data as Record<string, unknown>)[only];
    if ((only === 'hex' || only === 'base64') && typeof value === 'string') {
      const parsed = parsePayload(`${only}:${value}`);
      return typeof parsed === 'string' ? `message data { ${only} }: ${parsed}` : parsed.kind === 'static' ? parsed.bytes : Buffer.alloc(0);
    }
  }
  return Buffer.from(JSON.stringify(data) ?? '', 'utf8');
}
