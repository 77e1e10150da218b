// What bench/tls's scripts share: server processes, CPU accounting from /proc, waiting for a
// quiet machine, and medians — so that run.mjs (HTTPS) and h2.mjs (HTTP/2) measure alike.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Stops a server process with SIGTERM (SIGKILL after 15 s); warns when it did not exit 0. */
export async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
  if (child.exitCode !== 0) console.error(`warning: server exited with ${child.exitCode ?? child.signalCode} after SIGTERM`);
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds the whole machine has been busy (every process, every CPU). */
export function machineBusySeconds() {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}

/**
 * Waits (at most `seconds`) until the machine is quiet — other processes busy less than a
 * quarter of a CPU over half a second — so that a shared machine disturbs fewer measurements.
 */
export async function settle(seconds) {
  const deadline = performance.now() + 1000 * seconds;
  do {
    const before = machineBusySeconds();
    await new Promise((r) => setTimeout(r, 500));
    if (machineBusySeconds() - before < 0.125) return;
  } while (performance.now() < deadline);
}

/** Other processes' share of a CPU (%) above which a measured pass counts as disturbed. */
export const DISTURBED = 25;

/** The median of a list of numbers. */
export function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Exits with what to install when a tool is missing: `[command, versionArgs, debianPackage]`. */
export function requireTools(tools) {
  for (const [command, args, pkg = command] of tools) {
    try {
      execFileSync(command, args, { stdio: 'ignore' });
    } catch (error) {
      if (error.code === 'ENOENT') {
        console.error(`${command} is not installed: apt-get install -y ${pkg}`);
        process.exit(1);
      }
    }
  }
}

/** Exits when the repository at `root` has not been built (the servers run dist/). */
export function requireBuild(root) {
  if (!existsSync(`${root}dist/bundle/cli.js`)) {
    console.error('hendrix is not built: npm run build');
    process.exit(1);
  }
}

/** One certificate for both servers in `dir`: EC P-256, SHA-256, for localhost and 127.0.0.1. */
export function makeCertificate(dir) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-sha256', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', key, '-out', cert,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { cert, key };
}
