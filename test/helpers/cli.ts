import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The built CLI (tests run after `npm run build`). */
export const BIN = `${ROOT}bin/hendrix.js`;

/** The result of a finished CLI run. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `hendrix` to completion. */
export async function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const child = spawnCli(args, options);
  const [code, signal] = (await once(child.process, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout: child.stdout(), stderr: child.stderr() };
}

/** A running `hendrix` process with its output collected. */
export interface CliProcess {
  process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first JSON log line matching `test` (rejects if the process exits first). */
  waitForLog(test: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code. */
  exited(): Promise<number | null>;
}

/**
 * The runtime folder of the `hendrix` processes this test file spawns: the default control
 * socket lives there, so that test files running the same example at once do not collide (an
 * instance refuses to start while another one runs for the same manifest).
 */
export const RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'hendrix-run-'));

/** Spawns the built `hendrix` without waiting for it. */
export function spawnCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', XDG_RUNTIME_DIR: RUNTIME_DIR, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited: () => exit,
    waitForLog(test, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const line of out.split('\n')) {
            if (!line.startsWith('{')) continue;
            try {
              const parsed = JSON.parse(line) as Record<string, unknown>;
              if (test(parsed)) return done(() => resolve(parsed));
            } catch {
              // a partial line: wait for more
            }
          }
        };
        const timer = setTimeout(() => done(() => reject(new Error(`timed out; stdout:\n${out}\nstderr:\n${err}`))), timeoutMs);
        const onExit = () => done(() => reject(new Error(`exited before the log line; stdout:\n${out}\nstderr:\n${err}`)));
        const done = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
          fn();
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

/** The JSON log lines a `hendrix` process has written to stdout so far (a line still being written is left out). */
export function logLines(p: Pick<CliProcess, 'stdout'>): Record<string, unknown>[] {
  return p
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/** The "ready" log line's address of a service, as a URL usable from the test (0.0.0.0 → 127.0.0.1). */
export function addressOf(readyLine: Record<string, unknown>, service: string): string {
  const services = readyLine.services as Record<string, string>;
  const address = services[service];
  if (!address) throw new Error(`no address for ${service} in ${JSON.stringify(readyLine)}`);
  return address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1');
}
