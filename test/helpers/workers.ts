import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach } from 'vitest';
import { addressOf, spawnCli, type CliProcess } from './cli.js';
import { request } from './reload/load.js';

/**
 * An app for the workers tests: answers `<version> <pid>`; `/slow?ms=N` sends its headers at
 * once (so a test knows the request is in flight in a worker) and ends the body N ms later;
 * `/boom` answers, then throws in a timer (an uncaught exception of app code).
 */
export function pidApp(version: string): string {
  return `const VERSION = ${JSON.stringify(version)};
export default (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/boom') setTimeout(() => { throw new Error('boom in a timer'); });
  if (url.pathname === '/slow') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    const timer = setTimeout(() => res.end(VERSION + ' ' + process.pid), Number(url.searchParams.get('ms') ?? 1000));
    res.on('close', () => clearTimeout(timer));
    return;
  }
  res.end(VERSION + ' ' + process.pid);
};
`;
}

/** A manifest with one http service `web` on 127.0.0.1:0 serving ./app.mjs; `extra` lines go under web. */
export function webManifest(workers: number | string | undefined, extra = ''): string {
  return `${workers === undefined ? '' : `workers: ${workers}\n`}services:\n  web:\n    kind: http\n    listen: 127.0.0.1:0\n    app: ./app.mjs\n${extra}`;
}

/** A running `hendrix up` with workers, as its ready line describes it. */
export interface Graph {
  p: CliProcess;
  url: string;
  control: string;
  /** The worker pids of the ready line, in slot order (worker 1 first). */
  pids: number[];
  /** The marker in the environment of every process of this graph (see processesMarked). */
  marker: string;
}

/** True for a "ready:" log line. */
export const isReady = (l: Record<string, unknown>): boolean => typeof l.msg === 'string' && l.msg.startsWith('ready:');

/** The pids of the workers in a ready line (`workers: [{ id, role, pid, state }]`); none for one process. */
export function workerPids(ready: Record<string, unknown>, role = 'each'): number[] {
  const workers = (ready.workers ?? []) as { id: number; role: string; pid: number }[];
  return workers.filter((w) => w.role === role).map((w) => w.pid);
}

/** Spawns `hendrix up ARGS` in `dir` with a marker in its environment (inherited by its workers). */
export function spawnMarked(dir: string, args: string[] = []): { p: CliProcess; marker: string } {
  const marker = randomUUID();
  return { p: spawnCli(['up', ...args], { cwd: dir, env: { HX_TEST_MARKER: marker } }), marker };
}

/** Starts `hendrix up ARGS` in `dir` and waits for its ready line. */
export async function startGraph(dir: string, args: string[] = [], running?: CliProcess[]): Promise<Graph> {
  const { p, marker } = spawnMarked(dir, args);
  running?.push(p);
  const ready = await p.waitForLog(isReady, 20_000);
  return { p, url: addressOf(ready, 'web'), control: String(ready.control), pids: workerPids(ready), marker };
}

/** True while a process exists and is not a zombie (a reparented worker may wait for its reaper). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The live processes whose environment holds `HX_TEST_MARKER=marker`: the primary and its workers. */
export function processesMarked(marker: string): number[] {
  const needle = `HX_TEST_MARKER=${marker}`;
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (env.split('\0').includes(needle) && isAlive(Number(entry))) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return found;
}

/** Polls `test` until it holds, failing with `what` after `ms` (a deadline, not a timing assertion). */
export async function until(test: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `GET url` on a fresh connection: the body. */
export async function fetchBody(url: string): Promise<string> {
  const answer = await request(url);
  if (answer.status !== 200) throw new Error(`${url}: ${answer.status} ${answer.body}`);
  return answer.body;
}

/** Fresh-connection requests until every pid of `pids` has answered; returns the bodies by pid. */
export async function answersFrom(url: string, pids: readonly number[], ms = 15_000): Promise<Map<number, string>> {
  const seen = new Map<number, string>();
  await until(async () => {
    const body = await fetchBody(url);
    seen.set(Number(body.split(' ').pop()), body);
    return pids.every((pid) => seen.has(pid));
  }, `answers from pids ${pids.join(', ')} (seen ${[...seen.keys()].join(', ')})`, ms);
  return seen;
}

/** One request of a load client: when it was sent and ended, and who answered or what failed. */
export interface Hit {
  client: number;
  sent: number;
  ended: number;
  version?: string;
  pid?: number;
  error?: string;
  /** The connection it went on (numbered per client). */
  connection: number;
}

/** Keep-alive clients looping on one URL. */
export interface PidLoad {
  hits: Hit[];
  /** Ends the loops after their current request. */
  stop(): Promise<Hit[]>;
}

/**
 * Starts `clients` request loops, each one client on its own keep-alive connection
 * (`maxSockets: 1`), pausing `paceMs` between requests (paced: the machine is shared). Records
 * every request: who answered (`<version> <pid>`) or what failed (a request not answered
 * within `deadlineMs` fails).
 */
export function startPidLoad(url: string, clients: number, paceMs = 20, deadlineMs = 15_000): PidLoad {
  let running = true;
  const hits: Hit[] = [];
  const agents: Agent[] = [];
  const loop = async (client: number): Promise<void> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    const sockets = new Map<Socket, number>();
    while (running) {
      const sent = Date.now();
      try {
        const answer = await request(url, { agent, timeoutMs: deadlineMs });
        if (!sockets.has(answer.socket)) sockets.set(answer.socket, sockets.size + 1);
        const [version, pid] = answer.body.split(' ');
        const hit: Hit = { client, sent, ended: Date.now(), connection: sockets.get(answer.socket)! };
        if (answer.status === 200 && version && pid) hits.push({ ...hit, version, pid: Number(pid) });
        else hits.push({ ...hit, error: `${answer.status} ${answer.body.slice(0, 80)}` });
      } catch (error) {
        hits.push({ client, sent, ended: Date.now(), connection: sockets.size, error: (error as NodeJS.ErrnoException).code ?? String(error) });
      }
      await new Promise((r) => setTimeout(r, paceMs));
    }
  };
  const loops = Array.from({ length: clients }, (_, n) => loop(n));
  return {
    hits,
    async stop() {
      running = false;
      await Promise.all(loops);
      for (const agent of agents) agent.destroy();
      return hits;
    },
  };
}

/** The worker pids the primary serves from now, asked on its control socket (`GET /workers`). */
export async function livePids(control: string, role = 'each'): Promise<number[]> {
  const body = await new Promise<string>((resolve, reject) => {
    get({ socketPath: control, path: '/workers' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
  return workerPids(JSON.parse(body) as Record<string, unknown>, role);
}

/** A request to `/slow?ms=N`: `started` resolves once its headers came (it is in flight in a worker), `body` with the whole body or the error. */
export function slowRequest(url: string, ms: number): { started: Promise<void>; body: Promise<string> } {
  let started: () => void = () => {};
  const startedP = new Promise<void>((resolve) => (started = resolve));
  const body = new Promise<string>((resolve, reject) => {
    get(`${url}/slow?ms=${ms}`, { agent: false }, (res) => {
      started();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('aborted')));
    }).on('error', reject);
  });
  body.catch(() => undefined);
  return { started: startedP, body };
}

/**
 * The CLI processes a test file started (push them): each still running is stopped with SIGTERM
 * and awaited after each test.
 */
export function useRunningClis(): CliProcess[] {
  const running: CliProcess[] = [];
  afterEach(async () => {
    for (const p of running.splice(0)) {
      if (p.process.exitCode !== null || p.process.signalCode !== null) continue;
      p.process.kill('SIGTERM');
      await p.exited();
    }
  });
  return running;
}
