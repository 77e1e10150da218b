import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceStatus } from '../admin/types.js';
import { EXIT } from '../errors/codes.js';
import { HendrixError, isHendrixError } from '../errors/hendrix-error.js';
import { formatDuration, parseDuration } from '../kinds/units.js';
import { parseCommandArgs } from './args.js';
import { clientControlPath } from './control.js';
import { controlErrorOf, controlRequest } from './control-client.js';
import { HELP } from './help.js';
import { reportError, type CliIO } from './io.js';

const OPTIONS = {
  file: { type: 'string', short: 'f', multiple: true },
  control: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** How long `hendrix stop` waits for the instance to be gone, unless --timeout says otherwise. */
const DEFAULT_STOP_TIMEOUT = '60s';

/** The past tense each operation prints. */
const DONE = { restart: 'restarted', stop: 'stopped', start: 'started' } as const;

type Op = keyof typeof DONE;


/** One service's operation: `POST /services/NAME/OP`, the outcome in one line (or the instance's error). */
async function serviceOp(op: Op, service: string, path: string, io: CliIO): Promise<number> {
  const t0 = performance.now();
  const response = await controlRequest(path, 'POST', `/services/${encodeURIComponent(service)}/${op}`);
  const error = controlErrorOf(response);
  if (error) return reportError(io, error);
  const ms = Math.round(performance.now() - t0);
  // the instance answers `{ service }`: the service's status once the operation is done
  const status = ((response.body as { service?: ServiceStatus } | null)?.service ?? {}) as Partial<ServiceStatus>;
  const state = status.state && status.state !== 'ready' && op !== 'stop' ? `, now ${status.state}` : '';
  // a stop takes the dependents down first, and they stay down until it starts again: say so
  const dependents = op === 'stop' && status.dependents?.length ? `; dependents stopped too: ${status.dependents.join(', ')}` : '';
  const after = op === 'stop' ? `in ${formatDuration(ms)}${dependents}` : `ready in ${formatDuration(ms)}`;
  io.stdout.write(`${service} ${DONE[op]} (${after}${state})\n`);
  return EXIT.ok;
}

/**
 * Whether the process `pid` still runs (EPERM: it does, under another user). An exited process
 * its parent has not reaped yet (a zombie, state Z in /proc on Linux) has stopped.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: kill() said it exists
  }
}

/**
 * The whole instance: `POST /stop`, then waits until its control socket is gone and its
 * process has exited (so that a `hendrix up` right after it finds the ports free), bounded by
 * `timeoutMs`.
 */
async function stopInstance(path: string, timeoutMs: number, io: CliIO): Promise<number> {
  const who = await controlRequest(path, 'GET', '/pid');
  const pid = typeof (who.body as { pid?: unknown })?.pid === 'number' ? (who.body as { pid: number }).pid : undefined;
  const response = await controlRequest(path, 'POST', '/stop');
  const error = controlErrorOf(response);
  if (error) return reportError(io, error);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const running = await controlRequest(path, 'GET', '/pid', undefined, { signal: AbortSignal.timeout(Math.max(1, Math.ceil(deadline - performance.now()))) }).then(
      () => true,
      (e: unknown) => !(isHendrixError(e) && e.code === 'HX_ERR_CONTROL_NOT_RUNNING'),
    );
    if (!running && (pid === undefined || !alive(pid))) break;
    if (performance.now() >= deadline) {
      throw new HendrixError('HX_ERR_CONTROL_REQUEST', {
        message: `the instance${pid === undefined ? '' : ` (pid ${pid})`} is still stopping after ${formatDuration(timeoutMs)}`,
        hint: '`hendrix status` says what it is waiting for; wait longer with --timeout, or send it a second SIGTERM to force the stop',
      });
    }
    await sleep(running ? 100 : 20);
  }
  io.stdout.write('stopped\n');
  return EXIT.ok;
}

/** The options every operation shares: the control path, and the one SERVICE (required or not). */
async function parse(op: Op, argv: string[], io: CliIO, serviceRequired: boolean) {
  const { values, positionals } = parseCommandArgs(op, argv, OPTIONS, true);
  if (values.help) return { help: true as const };
  if (positionals.length > 1) throw new HendrixError('HX_ERR_USAGE', { message: `${op}: one service at a time (got ${positionals.join(', ')})`, hint: `run \`hendrix ${op} --help\`` });
  if (serviceRequired && positionals.length === 0) throw new HendrixError('HX_ERR_USAGE', { message: `${op}: which service?`, hint: `hendrix ${op} SERVICE (\`hendrix status\` lists them)` });
  if (values.timeout !== undefined && (op !== 'stop' || positionals.length)) throw new HendrixError('HX_ERR_USAGE', { message: `${op}: --timeout applies to \`hendrix stop\` of the whole instance` });
  const path = await clientControlPath(values.file?.length ? values.file : ['hendrix.yaml'], values.control, io.cwd, io.env);
  return { help: false as const, path, service: positionals[0], timeout: values.timeout };
}

/** `hendrix restart SERVICE`: restarts one service of the running instance (its dependents follow). */
export async function restartCommand(argv: string[], io: CliIO): Promise<number> {
  const args = await parse('restart', argv, io, true);
  if (args.help) return io.stdout.write(`${HELP.restart}\n`), EXIT.ok;
  return serviceOp('restart', args.service!, args.path, io);
}

/** `hendrix start SERVICE`: starts a service stopped by `hendrix stop SERVICE` or failed for good. */
export async function startCommand(argv: string[], io: CliIO): Promise<number> {
  const args = await parse('start', argv, io, true);
  if (args.help) return io.stdout.write(`${HELP.start}\n`), EXIT.ok;
  return serviceOp('start', args.service!, args.path, io);
}

/** `hendrix stop [SERVICE]`: stops the running instance (as SIGTERM does), or one service of it. */
export async function stopCommand(argv: string[], io: CliIO): Promise<number> {
  const args = await parse('stop', argv, io, false);
  if (args.help) return io.stdout.write(`${HELP.stop}\n`), EXIT.ok;
  if (args.service !== undefined) return serviceOp('stop', args.service, args.path, io);
  let timeoutMs: number;
  try {
    // a bare number is seconds here, as for timeout(1): `--timeout 90`
    const text = args.timeout ?? DEFAULT_STOP_TIMEOUT;
    timeoutMs = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) * 1000 : parseDuration(text);
  } catch {
    throw new HendrixError('HX_ERR_USAGE', { message: `stop: --timeout \`${args.timeout}\` is not a duration`, hint: 'e.g. --timeout 90s or --timeout 2m' });
  }
  return stopInstance(args.path, timeoutMs, io);
}
