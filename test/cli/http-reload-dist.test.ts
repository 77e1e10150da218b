import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const run = promisify(execFile);

/** Fails when a source of the http kind is newer than its build: this test runs dist/ (`npm run build` first). */
function assertBuilt(): void {
  const sources = join(ROOT, 'services/http');
  for (const file of readdirSync(sources)) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
    const built = join(ROOT, 'dist/services/http', file.replace(/\.ts$/, '.js'));
    const age = statSync(built, { throwIfNoEntry: false })?.mtimeMs;
    if (age === undefined || age < statSync(join(sources, file)).mtimeMs) throw new Error(`dist/ is older than services/http/${file}: run npm run build first`);
  }
}

describe('http reload under plain Node (the built service, no test runner loader)', () => {
  it('imports a fresh module graph at each reload, registers its hook only then, and keeps the keep-alive connection', async () => {
    assertBuilt();
    const { stdout } = await run(process.execPath, [join(ROOT, 'test/helpers/http/reload-dist.mjs'), 'check'], { cwd: ROOT, timeout: 30_000 });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(result).toMatchObject({
      // each reload's change of lib.mjs (imported by the app, not the app itself) is served; the last reload changed only a limit
      bodies: ['v0 200', 'v1 200', 'v2 200', 'v3 200', 'v4 200', 'v5 200', 'v5 200'],
      // each generation of lib.mjs ran once: the unchanged last reload imported nothing
      libRuns: [0, 1, 2, 3, 4, 5],
      hookAtStart: false,
      hookAfter: true,
      sockets: 1,
      closed: 0,
    });
  });
});
