import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { findRunner, runnerPath } from './locate-runner.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const runner = join(here, 'worker-entry.mjs');
const cache = join(root, 'node_modules', '.cache');
const made: string[] = [];

afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

describe('runnerPath', () => {
  it('finds worker-entry.mjs from the sources', () => {
    expect(runnerPath()).toBe(runner);
    expect(existsSync(runnerPath())).toBe(true);
  });

  it('walks up to the hendrix package from anywhere inside it (e.g. dist/bundle/chunks)', () => {
    expect(findRunner(join(root, 'dist', 'bundle', 'chunks'))).toBe(runner);
    expect(findRunner(root)).toBe(runner);
  });

  it('says so when there is no hendrix package above, or the runner is missing from it', () => {
    const outside = mkdtempSync(join(tmpdir(), 'hx-runner-'));
    made.push(outside);
    expect(() => findRunner(outside)).toThrow(`crosstown runner not found: no hendrix package.json above ${outside}`);
    const pkg = join(outside, 'node_modules', 'hendrix');
    mkdirSync(join(pkg, 'dist'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'hendrix' }));
    expect(() => findRunner(join(pkg, 'dist'))).toThrow(/runner not found at .*node_modules\/hendrix\/src\/crosstown\/worker-entry\.mjs; the hendrix package is incomplete/);
  });
});

describe('bundled pools', () => {
  it('find the runner from a bundle, and idle pools let the process exit by itself', async () => {
    mkdirSync(cache, { recursive: true });
    const out = mkdtempSync(join(cache, 'hx-crosstown-'));
    made.push(out);
    await build({
      stdin: { contents: "export { createThreadPool } from './thread-pool.js'; export { createProcessPool } from './process-pool.js';", resolveDir: here, loader: 'ts' },
      outfile: join(out, 'pools.js'),
      bundle: true,
      format: 'esm',
      platform: 'node',
      logLevel: 'silent',
    });
    const started = Date.now();
    const script = spawn(process.execPath, [join(here, 'fixtures', 'use-pools-once.mjs'), out, join(here, 'fixtures', 'tasks.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    script.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => script.kill('SIGKILL'), 8000);
      script.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    const { thread, child } = JSON.parse(stdout) as { thread: { data: string; threadId: number }; child: { data: string; pid: number } };
    expect([thread.data, thread.threadId > 0, child.data]).toEqual(['t', true, 'p']);
    // the child of the process pool saw its parent go and ended too
    await expect.poll(() => isAlive(child.pid), { timeout: 3000 }).toBe(false);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
