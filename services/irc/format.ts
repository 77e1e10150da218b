/**
 * The `format` templates of relay entries: text with `{placeholder}`s, `{{` and `}}` for
 * literal braces. Hub → channel lines read the hub message ({data}, {data.field}, {topic},
 * {id}, {time}); channel → hub data reads the IRC line ({nick}, {channel}, {text}, {time}).
 */

/** Which direction a template is for. */
export type FormatSource = 'hub' | 'channel';

const NAMES: Record<FormatSource, ReadonlySet<string>> = {
  hub: new Set(['data', 'topic', 'id', 'time']),
  channel: new Set(['nick', 'channel', 'text', 'time']),
};

const TOKEN = /\{\{|\}\}|\{([^{}]*)\}|[{}]/g;

/** Why `format` cannot be used for `source`, or undefined when it can. */
export function checkFormat(format: string, source: FormatSource): string | undefined {
  for (const match of format.matchAll(TOKEN)) {
    const [token, inner] = match;
    if (token === '{{' || token === '}}') continue;
    if (inner === undefined) return `unmatched ${token} in the format (write {{ or }} for a literal brace)`;
    const [head, ...rest] = inner.trim().split('.');
    if (!head || !NAMES[source].has(head) || (rest.length > 0 && head !== 'data') || rest.some((p) => p === '')) {
      const allowed = [...NAMES[source]].map((n) => `{${n}}`).join(', ');
      return `unknown placeholder {${inner}}: a ${source === 'hub' ? 'hub → channel' : 'channel → hub'} relay knows ${allowed}${source === 'hub' ? ' and {data.field}' : ''}`;
    }
  }
  return undefined;
}

/** Renders a checked template; a value that is not a string is written as JSON, a missing one as nothing. */
export function renderFormat(format: string, values: Readonly<Record<string, unknown>>): string {
  return format.replace(TOKEN, (token: string, inner: string | undefined) => {
    if (token === '{{') return '{';
    if (token === '}}') return '}';
    if (inner === undefined) return token;
    const [head, ...path] = inner.trim().split('.');
    let value: unknown = values[head ?? ''];
    for (const key of path) value = value !== null && typeof value === 'object' && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
    return toText(value);
  });
}

/** A value as text: strings as they are, undefined as nothing, anything else as compact JSON. */
export function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
