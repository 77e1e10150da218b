import { LineCounter, parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { findNode, locateExact, locatePath, scalarSource, type YamlSource } from '../../src/manifest/locate.js';

function source(text: string): YamlSource {
  const lineCounter = new LineCounter();
  return { file: 'm.yaml', text, doc: parseDocument(text, { lineCounter }), lineCounter };
}

const src = source(`services:
  web:
    kind: http
    listen: 8000
    dependsOn: [db, cache]
    channels:
      - '#ops'
    app:
`);

describe('locate', () => {
  it('points at a scalar value with its span', () => {
    expect(locatePath(src, ['services', 'web', 'listen'])).toEqual({ file: 'm.yaml', line: 4, column: 13, endLine: 4, endColumn: 17 });
  });

  it('points at the key when asked, and at the key of a block collection by default', () => {
    expect(locatePath(src, ['services', 'web', 'listen'], 'key')).toMatchObject({ line: 4, column: 5 });
    expect(locatePath(src, ['services', 'web'])).toMatchObject({ line: 2, column: 3 });
    expect(locatePath(src, ['services', 'web'], 'value')).toMatchObject({ line: 3, column: 5 });
    expect(locatePath(src, ['services', 'web', 'dependsOn'])).toMatchObject({ line: 5, column: 16 });
  });

  it('locates list items', () => {
    expect(locatePath(src, ['services', 'web', 'dependsOn', 1])).toMatchObject({ line: 5, column: 21, endColumn: 26 });
    expect(locatePath(src, ['services', 'web', 'channels', 0])).toMatchObject({ line: 7, column: 9 });
  });

  it('falls back to the key of the nearest ancestor for a missing path', () => {
    expect(locatePath(src, ['services', 'web', 'restart', 'policy'])).toMatchObject({ line: 2, column: 3 });
    expect(locatePath(src, ['services', 'nope'])).toMatchObject({ line: 1, column: 1 });
    expect(locateExact(src, ['services', 'web', 'restart'])).toBeUndefined();
  });

  it('locates an empty value at the place after its key', () => {
    expect(locatePath(src, ['services', 'web', 'app'])).toMatchObject({ line: 8, column: 9 });
    expect(findNode(src.doc, ['services', 'web', 'app']).depth).toBe(3);
  });

  it('gives the raw text of a scalar', () => {
    expect(scalarSource(src, ['services', 'web', 'channels', 0])?.raw).toBe("'#ops'");
    expect(scalarSource(src, ['services', 'web'])).toBeUndefined();
  });
});
