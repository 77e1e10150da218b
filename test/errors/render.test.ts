import { describe, expect, it } from 'vitest';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import { attachSources, flattenErrors, renderError, renderErrorsJson } from '../../src/errors/render.js';

const source = 'version: 1\nservices:\n  web:\n    kind: http\n    lisen: 8000\n';
const unknownKey = new HendrixError('HX_ERR_UNKNOWN_KEY', {
  message: 'unknown key `lisen` in services.web — did you mean `listen`?',
  path: ['services', 'web', 'lisen'],
  service: 'web',
  location: { file: 'hendrix.yaml', line: 5, column: 5, endLine: 5, endColumn: 10 },
});
const cycle = new HendrixError('HX_ERR_CYCLE', {
  message: 'dependency cycle: a → b → a',
  related: [
    { message: 'a → b (dependsOn)', location: { file: 'hendrix.yaml', line: 3, column: 17 } },
    { message: 'b → a (dependsOn)', location: { file: 'hendrix.prod.yaml', line: 2, column: 17 } },
  ],
});
const lookup = (file: string) => (file === 'hendrix.yaml' ? source : undefined);

describe('renderError', () => {
  it('draws the header, the location with the path, a code frame with carets, and the hint', () => {
    expect(renderError(unknownKey, { source: lookup })).toBe(
      [
        'error[HX_ERR_UNKNOWN_KEY]: unknown key `lisen` in services.web — did you mean `listen`?',
        '  --> hendrix.yaml:5:5  (services.web.lisen)',
        '    |',
        '  4 |     kind: http',
        '  5 |     lisen: 8000',
        '    |     ^^^^^',
        '  hint: remove it or fix its spelling',
      ].join('\n'),
    );
  });

  it('renders an aggregate as each of its errors, then a summary, and lists related places', () => {
    const all = new HendrixError('HX_ERR_MANIFEST', { message: 'the manifest has 2 problems', errors: [unknownKey, cycle] });
    const text = renderError(all, { source: lookup });
    expect(text.split('\n\n')).toHaveLength(3);
    expect(text).toContain('  related:\n    a → b (dependsOn)  hendrix.yaml:3:17\n    b → a (dependsOn)  hendrix.prod.yaml:2:17');
    expect(text.endsWith('error[HX_ERR_MANIFEST]: the manifest has 2 problems')).toBe(true);
  });

  it('uses sources attached to the error, skips the frame without one, and shows a cause', () => {
    const attached = attachSources(new HendrixError('HX_ERR_MANIFEST', { errors: [unknownKey] }), lookup);
    expect(renderError(attached)).toContain('  5 |     lisen: 8000');
    const noSource = renderError(unknownKey, { source: () => undefined });
    expect(noSource).not.toContain(' | ');
    const withCause = new HendrixError('HX_ERR_KIND_LOAD', { message: 'kind module ./k.mjs failed to load', cause: new SyntaxError('Unexpected token') });
    expect(renderError(withCause)).toContain('  cause: Unexpected token');
  });

  it('underlines a span running over several lines up to the end of the first one', () => {
    const multi = new HendrixError('HX_ERR_INVALID_VALUE', { location: { file: 'hendrix.yaml', line: 3, column: 3, endLine: 5, endColumn: 1 } });
    expect(renderError(multi, { source: lookup })).toContain('    |   ^^^^\n');
  });

  it('colors only when asked, and never prints a stack', () => {
    expect(renderError(unknownKey, { source: lookup })).not.toContain('\u001b[');
    const colored = renderError(unknownKey, { source: lookup, color: true });
    expect(colored).toContain('\u001b[1;31merror[HX_ERR_UNKNOWN_KEY]\u001b[0m');
    expect(colored).not.toContain('    at ');
  });
});

describe('renderErrorsJson', () => {
  it('flattens aggregates into plain rows', () => {
    const all = new HendrixError('HX_ERR_MANIFEST', { errors: [unknownKey, cycle] });
    expect(flattenErrors(all)).toHaveLength(2);
    const rows = renderErrorsJson(all);
    expect(rows[0]).toEqual({
      file: 'hendrix.yaml',
      line: 5,
      column: 5,
      path: 'services.web.lisen',
      code: 'HX_ERR_UNKNOWN_KEY',
      message: 'unknown key `lisen` in services.web — did you mean `listen`?',
      hint: 'remove it or fix its spelling',
      service: 'web',
      related: [],
    });
    expect(rows[1]).toMatchObject({ file: null, line: null, code: 'HX_ERR_CYCLE', related: [{ message: 'a → b (dependsOn)', file: 'hendrix.yaml', line: 3, column: 17 }, { file: 'hendrix.prod.yaml' }] });
    expect(JSON.parse(JSON.stringify(rows))).toEqual(rows);
  });
});
