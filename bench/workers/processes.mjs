// What run.mjs (hello world) and hub.mjs (hub fan-out) share: servers in their own process
// groups, so that a primary and its workers end together whatever happened to the primary; a
// free port; the children and the memory of a process; and a quiet Ctrl-C.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The servers and helper processes still running: the exit handler kills them. */
const live = new Set();
/** Set once SIGINT/SIGTERM arrived: a pass that ends because of it reports nothing. */
export const run = { interrupted: false };

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

const end = (child, signal) => (child.group ? killGroup(child, signal) : child.kill(signal));
let temp;
process.on('exit', () => {
  for (const child of live) end(child, 'SIGKILL');
  if (temp) rmSync(temp, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    run.interrupted = true;
    console.error(`\n${signal}: stopping the servers`);
    // servers get their graceful stop; wrk and the bench's own clients are simply ended
    for (const child of live) end(child, child.group ? 'SIGTERM' : 'SIGKILL');
    setTimeout(() => process.exit(130), live.size ? 2000 : 0); // the exit handler SIGKILLs what is left
  });
}

/**
 * Spawns a process the exit handler will kill; `group: true` puts it in its own process group
 * (a server: its workers are ended with it).
 */
export function spawnTracked(command, args, { group = false, ...options } = {}) {
  const child = spawn(command, args, { ...options, detached: group });
  child.group = group;
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

let sockets = 0;
/**
 * A control socket path of its own for one `hendrix up` (`--control`): the default is derived
 * from the manifest's folder, which every manifest of bench/workers shares, so that a run of
 * run.mjs and one of hub.mjs (or a leftover instance) would otherwise refuse each other.
 */
export function controlSocket() {
  temp ??= mkdtempSync(join(tmpdir(), 'hendrix-bench-workers-'));
  return join(temp, `control-${++sockets}.sock`);
}

/** A port of 127.0.0.1 that was free a moment ago. */
export const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The pids of the direct children of `pid`. */
export const childrenOf = (pid) => {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
};

/** VmRSS of a process, in MB. */
export const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/**
 * Stops a server's primary with SIGTERM (its own graceful path), SIGKILLs the group after 15 s,
 * then ends any process left in its group — with a warning: for hendrix that is a supervision bug.
 */
export async function stopGroup(label, child) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  if (child.exitCode !== 0) console.error(`warning: ${label} exited with ${child.exitCode ?? child.signalCode} after SIGTERM`);
  if (killGroup(child, 0)) {
    console.error(`warning: ${label} left processes behind after its primary exited; killing them`);
    killGroup(child, 'SIGKILL');
  }
}
