/** Error frame codes (docs/pubsub-protocol.md lists them). */
export type ErrorCode =
  | 'bad_json'
  | 'bad_frame'
  | 'unknown_type'
  | 'bad_topic'
  | 'bad_since'
  | 'unauthorized'
  | 'forbidden'
  | 'invalid_data'
  | 'too_many_subscriptions'
  | 'not_subscribed'
  | 'rate_limited'
  | 'unavailable'
  | 'revoked';

/** Whether `value` is a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The id of a frame refused before it was parsed (too deep), if it has one at its top level. */
export function idOf(text: string): unknown {
  try {
    // V8's JSON.parse does not recurse (it parses 100,000 levels): only what comes after would
    const frame: unknown = JSON.parse(text);
    const id = isObject(frame) ? frame['id'] : undefined;
    return typeof id === 'string' || typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** An error frame: the answer to the request `id` (when it has one), or a notice without id. */
export function errorFrame(code: ErrorCode, message: string, id: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return id === undefined ? { type: 'error', code, message, ...extra } : { type: 'error', code, message, id, ...extra };
}
