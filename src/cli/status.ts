import type { StatusJson } from '../admin/types.js';
import { EXIT } from '../errors/codes.js';
import { isHendrixError } from '../errors/hendrix-error.js';
import { parseCommandArgs } from './args.js';
import { clientControlPath } from './control.js';
import { controlErrorOf, controlRequest } from './control-client.js';
import { followEvents, instanceGone } from './events-client.js';
import { HELP } from './help.js';
import type { CliIO } from './io.js';
import { renderStatus } from './status-render.js';

const OPTIONS = {
  file: { type: 'string', short: 'f', multiple: true },
  control: { type: 'string' },
  json: { type: 'boolean' },
  watch: { type: 'boolean', short: 'w' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** How often `--watch` redraws on a terminal without events: the figures and SINCE move on. */
const TICK_MS = 1000;

/** Asks the instance for its status; the instance's own error (or HX_ERR_CONTROL_NOT_RUNNING) is thrown. */
export async function fetchStatus(path: string, signal?: AbortSignal): Promise<StatusJson> {
  const response = await controlRequest(path, 'GET', '/status', undefined, signal ? { signal } : {});
  const error = controlErrorOf(response);
  if (error) throw error;
  return response.body as StatusJson;
}

/** Whether `error` (of a request to the instance) means the instance is gone: nobody answers on its socket. */
async function isGone(path: string, error: unknown): Promise<boolean> {
  if (isHendrixError(error) && error.code === 'HX_ERR_CONTROL_NOT_RUNNING') return true;
  if (!isHendrixError(error) || error.code !== 'HX_ERR_CONTROL_REQUEST') return false;
  return instanceGone(path).catch(() => false);
}

/** Colours and width of the terminal (80 columns when the output is not one, or COLUMNS says so). */
function terminalOf(io: CliIO): { color: boolean; width: number; tty: boolean } {
  const tty = Boolean(io.stdout.isTTY);
  const columns = Number(io.env.COLUMNS) || (io.stdout as { columns?: number }).columns || 80;
  return { color: tty && !io.env.NO_COLOR, width: columns, tty };
}

/**
 * `hendrix status [--json] [--watch]`: the state of every service of the instance running
 * this manifest, from `GET /status` on its control socket. `--watch` redraws on every event of
 * `GET /events` (and every second on a terminal) until ^C or until the instance stops.
 */
export async function statusCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('status', argv, OPTIONS);
  if (values.help) return io.stdout.write(`${HELP.status}\n`), EXIT.ok;
  const path = await clientControlPath(values.file?.length ? values.file : ['hendrix.yaml'], values.control, io.cwd, io.env);
  const first = await fetchStatus(path);
  const print = (status: StatusJson) => {
    if (values.json) return values.watch ? `${JSON.stringify(status)}\n` : `${JSON.stringify(status, null, 2)}\n`;
    const { color, width } = terminalOf(io);
    return renderStatus(status, Date.now(), { color, width });
  };
  if (!values.watch) return io.stdout.write(print(first)), EXIT.ok;
  return watch(path, first, print, io, Boolean(values.json));
}

/** The `--watch` loop: a frame per event (and per second on a terminal) until ^C or the instance's end. */
async function watch(path: string, first: StatusJson, print: (status: StatusJson) => string, io: CliIO, json: boolean): Promise<number> {
  const stop = new AbortController();
  const offSignal = io.onSignal(() => stop.abort());
  // a terminal gets a screen of its own, redrawn in place (as top and watch do); a pipe (and
  // JSON, which is for programs) a frame per change
  const screen = terminalOf(io).tty && !json;
  let frame = '';
  const draw = (status: StatusJson) => {
    const next = print(status);
    // a pipe gets a frame only when something in it changed; text frames apart by a blank line
    if (!screen && next === frame) return;
    frame = next;
    io.stdout.write(screen ? `\x1b[H${frame.replace(/\n/g, '\x1b[K\n')}\x1b[J` : json ? frame : `${frame}\n`);
  };
  if (screen) io.stdout.write('\x1b[?1049h\x1b[?25l');
  let gone = false;
  let failure: unknown;
  let busy = false;
  let again = false;
  const refresh = async () => {
    if (busy) return void (again = true);
    busy = true;
    try {
      do {
        again = false;
        draw(await fetchStatus(path, stop.signal));
      } while (again && !stop.signal.aborted);
    } catch (error) {
      if (!stop.signal.aborted) {
        // a request that crosses the instance's exit fails with EPIPE or ECONNRESET: gone all the same
        if (await isGone(path, error)) gone = true;
        else failure = error;
        stop.abort();
      }
    } finally {
      busy = false;
    }
  };
  draw(first);
  const tick = screen ? setInterval(() => void refresh(), TICK_MS) : undefined;
  try {
    const end = await followEvents(path, { lastEventId: String(first.lastEventId), signal: stop.signal, onEvent: () => void refresh() });
    if (end === 'gone') gone = true;
  } catch (error) {
    failure = error;
  } finally {
    clearInterval(tick);
    offSignal();
    if (screen) io.stdout.write(`\x1b[?25h\x1b[?1049l${frame}`);
  }
  if (failure) throw failure;
  // JSON lines stay JSON: the word of the end goes to stderr then
  if (gone) (json ? io.stderr : io.stdout).write(`hendrix stopped: nobody answers on ${path} any more\n`);
  return EXIT.ok;
}
