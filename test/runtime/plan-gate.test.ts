import { createHook } from 'node:async_hooks';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHendrixError } from '../../src/errors/hendrix-error.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { upWith } from '../../src/runtime/up.js';
import { runCli } from '../helpers/cli.js';
import { BROKEN_ROOT, brokenCase, brokenCases, brokenPlanArgs } from '../helpers/broken-fixtures.js';
import { testKinds } from '../helpers/kinds.js';

/**
 * The plan is a gate: for every broken fixture (test/fixtures/broken, the goldens), `up` opens
 * no socket, no server and no file watcher — the problem is found before anything starts —
 * and `check` exits 78. Resources are watched with async_hooks while up() runs.
 */
const root = BROKEN_ROOT;
const cases = brokenCases();

/** Resource types that mean something was opened: sockets, servers, watchers, child processes. */
const OPENED = /^(TCPWRAP|TCPSERVERWRAP|PIPEWRAP|PIPESERVERWRAP|UDPWRAP|FSEVENTWRAP|STATWATCHER|PROCESSWRAP|TLSWRAP|HTTPINCOMINGMESSAGE|HTTPCLIENTREQUEST)$/;

/** Runs `fn` and returns the types of the resources it opened (see OPENED). */
async function openedBy(fn: () => Promise<unknown>): Promise<string[]> {
  const opened: string[] = [];
  const hook = createHook({
    init(_id, type) {
      if (OPENED.test(type)) opened.push(type);
    },
  }).enable();
  try {
    await fn();
  } finally {
    hook.disable();
  }
  return opened;
}

describe('the plan gates the start', () => {
  it('sees what a valid manifest opens (the watch is not blind)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-gate-'));
    writeFileSync(join(dir, 'app.mjs'), 'export default (req, res) => res.end("ok")');
    writeFileSync(join(dir, 'hendrix.yaml'), 'services:\n  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }\n');
    const opened = await openedBy(async () => {
      const app = await upWith(['hendrix.yaml'], { kinds: testKinds, cwd: dir, environment: {}, logger: createSilentLogger() });
      await app.stop();
    });
    expect(opened).toContain('TCPSERVERWRAP');
  });

  it.each(cases)('%s: up() rejects with the manifest error and opens nothing', async (name) => {
    const dir = join(root, name);
    const { files, options } = brokenPlanArgs(dir);
    let error: unknown;
    const opened = await openedBy(() =>
      upWith(files, { ...options, logger: createSilentLogger() }).then(
        async (app) => {
          await app.stop();
          throw new Error(`${name}: up() started a broken manifest`);
        },
        (e: unknown) => (error = e),
      ),
    );
    expect(isHendrixError(error), String(error)).toBe(true);
    expect((error as { exitCode: number }).exitCode).toBe(78);
    expect(opened).toEqual([]);
  });

  /** The fixtures the plan stage (graph, listen checks, provision) finds: `check` must refuse them too. */
  const planStage = cases.filter((name) => /^(app-|static-|tls-|pubsub-|irc-|two-services|cycle|self-dependency|unknown-dependency|unknown-reference)/.test(name));

  it('covers the plan-stage fixtures', () => {
    expect(planStage.length).toBeGreaterThanOrEqual(6);
  });

  it.each(planStage)('%s: hendrix check exits 78', async (name) => {
    const dir = join(root, name);
    const spec = brokenCase(dir);
    const args = ['check', ...(spec.files ?? []).flatMap((f) => ['-f', f]), ...(spec.env ? ['--env', spec.env] : []), ...(spec.set ?? []).flatMap((s) => ['--set', s])];
    const result = await runCli(args, { cwd: dir, env: spec.environment ?? {} });
    expect(result.code, result.stderr).toBe(78);
    expect(result.stderr).toMatch(/error\[HX_ERR_[A-Z_]+\]/);
  });
});
