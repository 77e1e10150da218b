import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBuiltinKinds } from '../../services/index.js';
import { ERROR_CODES, type ErrorCodeTable } from '../../src/errors/codes.js';
import { renderErrorsDoc } from '../../src/errors/errors-doc.js';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'fixtures' ? [] : sources(path);
    return /\.ts$/.test(entry) && !entry.endsWith('.test.ts') ? [path] : [];
  });
}

const kindSections = [...(await loadBuiltinKinds())].map(([name, kind]) => ({ name, codes: kind.errors ?? {} }));

describe('docs/errors.md', () => {
  it('is in step with the core table and the built-in kinds\' tables (regenerate with npm run docs:errors)', () => {
    expect(readFileSync(join(root, 'docs', 'errors.md'), 'utf8')).toBe(renderErrorsDoc(kindSections));
  });

  it('lists every code the sources raise, each declared once: by the core or by one kind', () => {
    const tables: [string, ErrorCodeTable][] = [['core', ERROR_CODES], ...kindSections.map((s) => [s.name, s.codes] as [string, ErrorCodeTable])];
    const owners = new Map<string, string[]>();
    for (const [name, table] of tables) for (const code of Object.keys(table)) owners.set(code, [...(owners.get(code) ?? []), name]);
    for (const [code, by] of owners) expect(by, `${code} is declared by ${by.join(' and ')}`).toHaveLength(1);
    const used = new Set<string>();
    for (const file of [...sources(join(root, 'src')), ...sources(join(root, 'services'))]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(HX_ERR_[A-Z0-9_]+)'/g)) used.add(m[1]!);
    }
    for (const code of used) expect([...owners.keys()], `${code} is raised but declared nowhere`).toContain(code);
  });

  it('keeps each kind\'s codes out of the core table', () => {
    for (const kind of ['TLS', 'PUBSUB', 'IRC', 'RAW', 'APP']) {
      expect(Object.keys(ERROR_CODES).filter((c) => c.startsWith(`HX_ERR_${kind}_`))).toEqual([]);
    }
  });
});
