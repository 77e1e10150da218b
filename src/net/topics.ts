/**
 * Topics and patterns. A topic is dot-separated segments (`chat.lobby`); a pattern may use
 * `*` for exactly one segment and `>` as its last segment for one or more remaining segments
 * (`chat.*`, `chat.>`), as in NATS.
 */

/** One segment: anything but dots, wildcards and whitespace. */
const SEGMENT = /^[^.*>\s]+$/;

/** The longest topic accepted, in characters. */
export const MAX_TOPIC_LENGTH = 256;

/** How patterns are written, for error messages. */
export const PATTERN_HELP = 'segments separated by dots; `*` for one segment, `>` at the end for the rest';

/** Why `topic` is not a valid topic to publish on, or undefined when it is. */
export function checkTopic(topic: unknown): string | undefined {
  if (typeof topic !== 'string' || topic.length === 0) return 'a topic is a non-empty string';
  if (topic.length > MAX_TOPIC_LENGTH) return `a topic has at most ${MAX_TOPIC_LENGTH} characters`;
  for (const segment of topic.split('.')) {
    if (segment === '*' || segment === '>') return 'wildcards are for subscriptions, not for publishing';
    if (!SEGMENT.test(segment)) return `invalid topic ${JSON.stringify(topic)}: empty segment or a character among . * > and whitespace`;
  }
  return undefined;
}

/** Why `pattern` is not a valid subscription pattern, or undefined when it is. */
export function checkPattern(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string' || pattern.length === 0) return 'a pattern is a non-empty string';
  if (pattern.length > MAX_TOPIC_LENGTH) return `a pattern has at most ${MAX_TOPIC_LENGTH} characters`;
  const segments = pattern.split('.');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    if (segment === '*') continue;
    if (segment === '>') {
      if (i !== segments.length - 1) return `invalid pattern ${JSON.stringify(pattern)}: \`>\` must be the last segment`;
      continue;
    }
    if (!SEGMENT.test(segment)) return `invalid pattern ${JSON.stringify(pattern)}: empty segment, or a wildcard inside a segment`;
  }
  return undefined;
}

/** Whether `topic` matches `pattern`. */
export function matches(pattern: string, topic: string): boolean {
  if (pattern === topic || pattern === '>') return true;
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i++) {
    const segment = p[i];
    if (segment === '>') return t.length > i;
    if (i >= t.length) return false;
    if (segment !== '*' && segment !== t[i]) return false;
  }
  return p.length === t.length;
}

/**
 * Whether every topic `inner` can match is also matched by `outer`: a client allowed to
 * subscribe to `outer` may subscribe to `inner` (`chat.>` covers `chat.*` and `chat.lobby`).
 */
export function covers(outer: string, inner: string): boolean {
  if (outer === '>' || outer === inner) return true;
  const o = outer.split('.');
  const n = inner.split('.');
  for (let i = 0; i < o.length; i++) {
    const segment = o[i];
    if (segment === '>') return n.length > i;
    const other = n[i];
    if (other === undefined || other === '>') return false;
    if (segment === '*') continue;
    if (other === '*' || other !== segment) return false;
  }
  return o.length === n.length;
}

/** Whether any of `allowed` covers `pattern`. */
export function allowedBy(allowed: readonly string[], pattern: string): boolean {
  for (const outer of allowed) if (covers(outer, pattern)) return true;
  return false;
}
