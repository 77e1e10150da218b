import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT } from '../errors/codes.js';
import { HendrixError, isHendrixError } from '../errors/hendrix-error.js';
import { isLoopback } from '../kinds/fields.js';
import { parseCommandArgs } from './args.js';
import { clientControlPath } from './control.js';
import { controlRequest } from './control-client.js';
import { startDashboardProxy, type DashboardProxy } from './dashboard-proxy.js';
import { followEvents } from './events-client.js';
import { HELP } from './help.js';
import type { CliIO } from './io.js';
import { fetchStatus } from './status.js';

const OPTIONS = {
  file: { type: 'string', short: 'f', multiple: true },
  control: { type: 'string' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The port of `--port`, or a usage error. */
function portOf(text: string | undefined): number {
  if (text === undefined) return 0;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) throw new HendrixError('HX_ERR_USAGE', { message: `dashboard: --port \`${text}\` is not a port`, hint: 'a number from 0 (any free port) to 65535' });
  return port;
}

/**
 * Resolves once the instance is gone: follows its event stream (which ends when it stops)
 * and asks who is there; an instance without `GET /events` is asked every second instead.
 */
async function untilGone(path: string, signal: AbortSignal): Promise<boolean> {
  try {
    return (await followEvents(path, { signal, onEvent: () => undefined })) === 'gone';
  } catch {
    while (!signal.aborted) {
      try {
        await controlRequest(path, 'GET', '/pid', undefined, { signal });
      } catch (error) {
        if (isHendrixError(error) && error.code === 'HX_ERR_CONTROL_NOT_RUNNING') return true;
      }
      await sleep(1000, undefined, { signal }).catch(() => undefined);
    }
    return false;
  }
}

/**
 * `hendrix dashboard [--port N] [--host H]`: serves the instance's dashboard page and admin
 * API on a local HTTP port, proxied to its control socket and guarded by a random token in the
 * URL it prints. Opens no browser. Runs until ^C, or until the instance stops (exit 0 both).
 */
export async function dashboardCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs('dashboard', argv, OPTIONS, true);
  if (values.help) return io.stdout.write(`${HELP.dashboard}\n`), EXIT.ok;
  if (positionals.length) throw new HendrixError('HX_ERR_USAGE', { message: `dashboard: unexpected \`${positionals[0]}\``, hint: 'run `hendrix dashboard --help`' });
  const port = portOf(values.port);
  const host = values.host ?? '127.0.0.1';
  const path = await clientControlPath(values.file?.length ? values.file : ['hendrix.yaml'], values.control, io.cwd, io.env);
  await fetchStatus(path); // nobody there: HX_ERR_CONTROL_NOT_RUNNING now, not at the first page load
  const stop = new AbortController();
  let proxy: DashboardProxy;
  try {
    proxy = await startDashboardProxy({ controlPath: path, host, port, token: randomBytes(24).toString('base64url') });
  } catch (error) {
    throw new HendrixError('HX_ERR_DASHBOARD_LISTEN', {
      message: `the dashboard cannot listen on ${host}:${port}: ${(error as Error).message}`,
      hint: port ? 'pick another --port, or leave it out for any free port' : 'check --host: an address of this machine',
      cause: error,
    });
  }
  if (!isLoopback({ host, port })) io.stderr.write(`warning: the dashboard listens on ${host}, beyond this machine: whoever has its URL can stop and restart services\n`);
  io.stdout.write(`dashboard: ${proxy.url}\n`);
  const offSignal = io.onSignal(() => stop.abort());
  try {
    if (await untilGone(path, stop.signal)) io.stdout.write('the instance stopped: dashboard closed\n');
  } finally {
    offSignal();
    await proxy.close();
  }
  return EXIT.ok;
}
