import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { renderErrorsDoc } from '../../src/errors/errors-doc.js';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'fixtures' ? [] : sources(path);
    return /\.ts$/.test(entry) && !entry.endsWith('.test.ts') ? [path] : [];
  });
}

describe('docs/errors.md', () => {
  it('is in step with the code table (regenerate with npm run docs:errors)', () => {
    expect(readFileSync(join(root, 'docs', 'errors.md'), 'utf8')).toBe(renderErrorsDoc());
  });

  it('lists every code the sources raise, and the table has no unknown code', () => {
    const used = new Set<string>();
    for (const file of [...sources(join(root, 'src')), ...sources(join(root, 'services'))]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(HX_ERR_[A-Z_]+)'/g)) used.add(m[1]!);
    }
    for (const code of used) expect(Object.keys(ERROR_CODES)).toContain(code);
  });
});
