import { afterEach } from 'vitest';
import type { StatusJson } from '../../src/admin/types.js';
import { ROOT, runCli, spawnCli, type CliProcess } from './cli.js';
import { useManifestDirs } from './manifest-dir.js';

/**
 * A graph for the tests of the CLI clients of a running instance (`hendrix status`,
 * `restart`, `stop`, `start`, `dashboard`): `web` (http), `api` (http, depends on web) and
 * `crashy` (a custom kind that dies 50 ms after its start and is restarted only after a
 * minute, so that it sits `restarting` with its error for the whole test; it starts last, so
 * that it dies after the graph is ready even on a loaded machine).
 */
export const RUNNING_GRAPH = `version: 1
services:
  web:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
  api:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
    dependsOn: [web]
  crashy:
    kind: ${ROOT}test/fixtures/kinds/crashy-kind.mjs
    after: 50
    dependsOn: [api]
    restart: { backoff: { initial: 60s, jitter: 0 } }
    onFailed: keep
`;

const APP = "export default (req, res) => res.end('hello from ' + process.pid);\n";

/**
 * Returns a function that writes the running graph into a fresh folder and starts `hendrix up`
 * in it (resolving once it is ready); every `hendrix` spawned through `track` is killed after
 * each test.
 */
export function useRunningGraphs() {
  const makeDir = useManifestDirs();
  const running: CliProcess[] = [];
  afterEach(() => {
    for (const p of running.splice(0)) if (p.process.exitCode === null && p.process.signalCode === null) p.process.kill('SIGKILL');
  });
  const track = (p: CliProcess) => (running.push(p), p);
  const start = async (manifest = RUNNING_GRAPH) => {
    const dir = makeDir({ 'hendrix.yaml': manifest, 'app.mjs': APP });
    const up = track(spawnCli(['up'], { cwd: dir }));
    await up.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('ready:'), 20_000);
    return { dir, up };
  };
  return { start, track, makeDir };
}

/** `hendrix status --json` of the instance in `dir`. */
export async function statusOf(dir: string): Promise<StatusJson> {
  const result = await runCli(['status', '--json'], { cwd: dir });
  if (result.code !== 0) throw new Error(`hendrix status --json exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as StatusJson;
}

/** Asks for the status until `test` holds (the graph moves on its own: a crash, a restart); at most 200 times. */
export async function statusUntil(dir: string, test: (status: StatusJson) => boolean): Promise<StatusJson> {
  let last: StatusJson | undefined;
  for (let i = 0; i < 200; i++) {
    last = await statusOf(dir);
    if (test(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the status never got there; last:\n${JSON.stringify(last, null, 2)}`);
}

/** Resolves once `text` appears in the process's stdout (rejects when it exits first or after `timeoutMs`). */
export function waitForOutput(p: CliProcess, test: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      const out = p.stdout();
      const match = test.exec(out);
      if (match) return resolve(match[0]);
      if (p.process.exitCode !== null || p.process.signalCode !== null) return reject(new Error(`exited before ${test}; stdout:\n${out}\nstderr:\n${p.stderr()}`));
      if (Date.now() - started > timeoutMs) return reject(new Error(`no ${test} in time; stdout:\n${out}\nstderr:\n${p.stderr()}`));
      setTimeout(check, 20);
    };
    check();
  });
}
