import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { hasCommand } from './system-command.js';

/**
 * Network namespaces for tests that send real frames: each test file makes its own (a unique
 * name, so parallel files never meet), adds veth pairs inside, and deletes it afterwards — also
 * when the test fails or the process exits early. Namespaces left by a killed run are swept
 * the next time (their names carry the pid of the process that made them).
 */

const PREFIX = 'hxt';
const made = new Set<string>();
let counter = 0;
let hooked = false;

/** A network namespace made by the test, deleted by remove(). */
export interface TestNetns {
  /** The name under /run/netns (what `ip -n` and the raw kind's `netns` take). */
  readonly name: string;
  /** /run/netns/NAME. */
  readonly path: string;
  /** Runs `ip -n NAME ...args` (throws with ip's message on failure). */
  ip(...args: string[]): string;
  /** Adds a veth pair `a` <-> `b`, both up; returns their MAC addresses. */
  veth(a: string, b: string, options?: { mtu?: number }): { a: Buffer; b: Buffer };
  /** Deletes the namespace (and every interface in it); safe twice. */
  remove(): void;
}

/**
 * Whether namespaces can be made here: root (or CAP_SYS_ADMIN + CAP_NET_ADMIN) and `ip`. In CI
 * (`CI=true`) a missing requirement throws, so the suite fails instead of skipping.
 */
export function canMakeNetns(): boolean {
  const missing = !hasCommand('ip') ? 'the `ip` command (Debian package iproute2)' : process.getuid?.() !== 0 ? 'root (ip netns add, CAP_NET_RAW)' : undefined;
  if (missing === undefined) return true;
  const message = `the raw frame tests need ${missing}: they run frames through a veth pair in a network namespace they create`;
  if (process.env['CI'] === 'true') throw new Error(message);
  process.stderr.write(`skipped: ${message}\n`);
  return false;
}

function ip(args: string[]): string {
  const result = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${(result.stderr || result.error?.message || '').trim()}`);
  return result.stdout;
}

/** Deletes namespaces of earlier runs whose process is gone. */
function sweep(): void {
  if (!existsSync('/run/netns')) return;
  for (const name of readdirSync('/run/netns')) {
    const m = new RegExp(`^${PREFIX}-(\\d+)-`).exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || existsSync(`/proc/${pid}`)) continue;
    spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  }
}

function removeAll(): void {
  for (const name of made) spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  made.clear();
}

/** Makes a namespace with a unique name (`hxt-<pid>-<n>-<random>`), its loopback up. */
export function createNetns(label = 'raw'): TestNetns {
  if (!hooked) {
    hooked = true;
    sweep();
    process.once('exit', removeAll);
  }
  counter += 1;
  const name = `${PREFIX}-${process.pid}-${counter}-${label}`.slice(0, 40);
  ip(['netns', 'add', name]);
  made.add(name);
  const ns: TestNetns = {
    name,
    path: `/run/netns/${name}`,
    ip: (...args: string[]) => ip(['-n', name, ...args]),
    veth(a, b, options = {}) {
      ns.ip('link', 'add', a, ...(options.mtu ? ['mtu', String(options.mtu)] : []), 'type', 'veth', 'peer', 'name', b, ...(options.mtu ? ['mtu', String(options.mtu)] : []));
      ns.ip('link', 'set', a, 'up');
      ns.ip('link', 'set', b, 'up');
      return { a: macOf(ns, a), b: macOf(ns, b) };
    },
    remove() {
      if (!made.delete(name)) return;
      spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
    },
  };
  ns.ip('link', 'set', 'lo', 'up');
  return ns;
}

function macOf(ns: TestNetns, iface: string): Buffer {
  const m = /link\/ether ([0-9a-f:]{17})/.exec(ns.ip('link', 'show', iface));
  if (m === null) throw new Error(`no MAC address for ${iface} in ${ns.name}`);
  return Buffer.from(m[1]!.replaceAll(':', ''), 'hex');
}

/** Runs a command inside the namespace (ip netns exec), returning its output. */
export function execIn(ns: TestNetns, command: string, args: string[], options: { timeout?: number } = {}): string {
  return execFileSync('ip', ['netns', 'exec', ns.name, command, ...args], { encoding: 'utf8', timeout: options.timeout ?? 10_000 });
}
