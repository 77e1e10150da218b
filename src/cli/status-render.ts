import type { AdminError, ServiceStatus, StatusJson, WorkerStatus } from '../admin/types.js';
import { STATE_COLOR } from './live-view.js';
import { naturalWidth, renderTable, textWidth, truncate, type TableColumn } from './table.js';

/** How renderStatus draws: colours (a TTY without NO_COLOR) and the terminal width. */
export interface StatusRenderOptions {
  readonly color: boolean;
  readonly width: number;
}

/** The narrowest a table is drawn, whatever the terminal says (a 20-column pane is not worth fitting). */
const MIN_WIDTH = 60;

/**
 * A duration as status shows it: the largest whole unit, `12s`, `3m`, `2h`, `4d` (`0s` for
 * anything under a second, including a time slightly in the future from a skewed clock).
 */
export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** Bytes as `48 MB` (decimal megabytes: what `ps` and `top` users read at a glance). */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  if (bytes < 1e6) return `${Math.round(bytes / 1e3)} kB`;
  if (bytes < 1e9) return `${Math.round(bytes / 1e6)} MB`;
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

/** An error in one line: its code, where it is in the manifest, its message. */
function errorLine(error: AdminError): string {
  return `${error.code}${error.at ? ` at ${error.at}` : ''}: ${error.message.replace(/\s*\n\s*/g, ' ')}`;
}

/**
 * Why a service is in its state, in one line: what a start waits for, when a restart is due
 * and what killed it, the error it failed with (code, manifest place, message), the reason
 * the instance gives for a stop; for a ready service, the last error it recovered from.
 */
export function whyOf(service: ServiceStatus, now: number): string {
  const error = service.lastError ? errorLine(service.lastError) : undefined;
  switch (service.state) {
    case 'starting':
      return service.waiting ?? service.why ?? '';
    case 'restarting': {
      const due = service.nextRestartAt === undefined ? undefined : Date.parse(service.nextRestartAt) - now;
      const next = due === undefined || Number.isNaN(due) ? 'restart due' : due <= 0 ? 'restart due now' : `next restart in ${formatAgo(due + 999)}`;
      return error ? `${next} · ${error}` : next;
    }
    case 'failed':
      return error ?? service.why ?? '';
    case 'ready':
      return error ? `last: ${error}` : (service.why ?? '');
    default:
      return service.why ?? '';
  }
}

function paintState(color: boolean) {
  return (text: string): string => {
    const code = color ? STATE_COLOR[text.trim()] : undefined;
    return code ? `\x1b[${code}m${text}\x1b[0m` : text;
  };
}

/** The instance's line(s): version, pid, uptime, state, plan fingerprint (short), env, workers, memory. */
function headerLines(status: StatusJson, width: number): string[] {
  const i = status.instance;
  const parts = [
    `hendrix ${i.version}`,
    `pid ${i.pid}`,
    `up ${formatAgo(i.uptimeSeconds * 1000)}`,
    i.draining ? `${i.state}, draining` : i.state,
    `plan ${i.fingerprint.slice(0, 8)}`,
    ...(i.env ? [`env ${i.env}`] : []),
    ...(i.workers?.length ? [`${i.workers.length} workers`] : []),
    `rss ${formatBytes(i.rss)}`,
  ];
  // wrapped between parts rather than cut: every part says something
  const lines: string[] = [];
  for (const part of parts) {
    const last = lines.at(-1);
    if (last !== undefined && textWidth(last) + 3 + textWidth(part) <= width) lines[lines.length - 1] = `${last} · ${part}`;
    else lines.push(truncate(part, width));
  }
  return lines;
}

/** WHY is a column only when it gets at least this much of the width; else it goes under its row. */
const WHY_COLUMN_MIN = 30;

/**
 * The services table. WHY takes what the other columns leave; when that is too little to say
 * anything (an 80-column terminal and a long address), each row's WHY goes on a line of its own
 * under the row instead, indented, cut to the width.
 */
function servicesTable(status: StatusJson, now: number, options: StatusRenderOptions, width: number): string[] {
  const services = status.services;
  const bold = options.color ? (t: string) => `\x1b[1m${t}\x1b[0m` : undefined;
  const columns: TableColumn[] = [
    { header: 'NAME', cells: services.map((s) => s.name), min: 8, max: 24 },
    // a custom kind is named by its module's path: its file name says enough
    { header: 'KIND', cells: services.map((s) => (s.kind.includes('/') ? s.kind.slice(s.kind.lastIndexOf('/') + 1) : s.kind)), min: 4, max: 16 },
    { header: 'STATE', cells: services.map((s) => s.state), min: 7, paint: paintState(options.color) },
    { header: 'SINCE', cells: services.map((s) => formatAgo(now - Date.parse(s.since))), right: true },
    { header: 'RESTARTS', cells: services.map((s) => String(s.restarts)), right: true },
    { header: 'ADDRESS', cells: services.map((s) => s.address ?? ''), min: 12, max: 40, optional: true },
  ];
  const why = services.map((s) => whyOf(s, now));
  if (why.every((w) => w === '')) return renderTable(columns, width, bold);
  if (width - naturalWidth(columns) - 2 >= WHY_COLUMN_MIN) {
    return renderTable([...columns, { header: 'WHY', cells: why, min: WHY_COLUMN_MIN, flex: true }], width, bold);
  }
  const [head = '', ...rows] = renderTable(columns, width, bold);
  const dim = (t: string) => (options.color ? `\x1b[90m${t}\x1b[0m` : t);
  return [head, ...rows.flatMap((row, i) => (why[i] ? [row, dim(`  ${truncate(why[i]!, width - 2)}`)] : [row]))];
}

function workersTable(workers: readonly WorkerStatus[], options: StatusRenderOptions, width: number): string[] {
  return renderTable(
    [
      { header: 'WORKER', cells: workers.map((w) => w.id) },
      { header: 'PID', cells: workers.map((w) => (w.pid === undefined ? '-' : String(w.pid))), right: true },
      { header: 'STATE', cells: workers.map((w) => w.state), paint: paintState(options.color) },
      { header: 'RSS', cells: workers.map((w) => formatBytes(w.rss)), right: true },
      { header: 'REQUESTS', cells: workers.map((w) => String(w.requests)), right: true },
      { header: 'RESTARTS', cells: workers.map((w) => String(w.restarts)), right: true },
    ],
    width,
    options.color ? (t) => `\x1b[1m${t}\x1b[0m` : undefined,
  );
}

/**
 * The text `hendrix status` prints for a status: the instance's line, the services in start
 * order (name, kind, state, since, restarts, address, why), and with workers a table of the
 * worker processes. A pure function of its arguments (golden-tested); `now` is epoch ms.
 */
export function renderStatus(status: StatusJson, now: number, options: StatusRenderOptions): string {
  const width = Math.max(MIN_WIDTH, options.width);
  const dim = (t: string) => (options.color ? `\x1b[90m${t}\x1b[0m` : t);
  const lines = [...headerLines(status, width).map(dim), '', ...servicesTable(status, now, options, width)];
  const workers = status.instance.workers;
  if (workers?.length) lines.push('', ...workersTable(workers, options, width));
  return `${lines.join('\n')}\n`;
}
