import { readFileSync } from 'node:fs';
import { HendrixError, type PathSegment, type SourceLocation } from '../errors/hendrix-error.js';
import type { ListenSite, ServiceKind } from '../kinds/contract.js';
import { formatListen } from '../kinds/fields.js';

/** One service as the listen checks see it. */
export interface ListenCandidate {
  readonly name: string;
  readonly kind: ServiceKind;
  readonly config: Readonly<Record<string, unknown>>;
}

/** What this process may bind: the first unprivileged port, and whether it may bind below it. */
export interface BindPrivilege {
  readonly unprivilegedPortStart: number;
  readonly canBindPrivileged: boolean;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Reads the privilege to bind ports below 1024 from the kernel (root, CAP_NET_BIND_SERVICE, the sysctl). */
export function bindPrivilege(): BindPrivilege {
  const start = Number(readProc('/proc/sys/net/ipv4/ip_unprivileged_port_start')?.trim() ?? 1024);
  const capEff = /^CapEff:\s*([0-9a-f]+)/m.exec(readProc('/proc/self/status') ?? '')?.[1];
  const CAP_NET_BIND_SERVICE = 10n;
  const hasCap = capEff !== undefined && ((BigInt(`0x${capEff}`) >> CAP_NET_BIND_SERVICE) & 1n) === 1n;
  const root = process.getuid?.() === 0;
  return { unprivilegedPortStart: Number.isFinite(start) ? start : 1024, canBindPrivileged: root || hasCap || process.platform === 'win32' };
}

function listensOf(candidate: ListenCandidate): readonly ListenSite[] {
  try {
    return candidate.kind.listens?.(candidate.config as never) ?? [];
  } catch {
    return [];
  }
}

/**
 * Finds, without opening a socket, the listen problems a start would hit: two services of the
 * manifest on one host:port (a wildcard host overlaps every host) or one unix socket path, and
 * ports below the unprivileged start that this process may not bind.
 */
export function checkListenSites(
  candidates: readonly ListenCandidate[],
  locate: (path: readonly PathSegment[]) => SourceLocation | undefined,
  privilege: BindPrivilege = bindPrivilege(),
): HendrixError[] {
  const errors: HendrixError[] = [];
  const seen: { name: string; site: ListenSite; path: PathSegment[] }[] = [];
  for (const candidate of candidates) {
    for (const site of listensOf(candidate)) {
      const path = ['services', candidate.name, ...site.path];
      const location = locate(path);
      const at = { path, service: candidate.name, ...(location ? { location } : {}) };
      const a = site.address;
      if ('port' in a && a.port > 0 && a.port < privilege.unprivilegedPortStart && !privilege.canBindPrivileged) {
        errors.push(
          new HendrixError('HX_ERR_LISTEN_PRIVILEGED', {
            message: `service \`${candidate.name}\` listens on port ${a.port}, below ${privilege.unprivilegedPortStart}, and this process (uid ${process.getuid?.() ?? '?'}) may not bind it`,
            ...at,
          }),
        );
      }
      const clash = seen.find(({ site: other }) => {
        const b = other.address;
        if ('path' in a || 'path' in b) return 'path' in a && 'path' in b && a.path === b.path;
        return a.port !== 0 && a.port === b.port && (a.host === b.host || WILDCARDS.has(a.host) || WILDCARDS.has(b.host));
      });
      if (clash) {
        const where = locate(clash.path);
        errors.push(
          new HendrixError('HX_ERR_LISTEN_CONFLICT', {
            message: `service \`${candidate.name}\` listens on ${formatListen(a)}, which service \`${clash.name}\` listens on already (${formatListen(clash.site.address)})`,
            ...at,
            related: [{ message: `\`${clash.name}\` listens here`, ...(where ? { location: where } : {}) }],
          }),
        );
      }
      seen.push({ name: candidate.name, site, path });
    }
  }
  return errors;
}
