import { z } from 'zod';
import { bool, duration, int } from '../kinds/fields.js';
import { DEFAULT_SKIP_STATUS, STATUS_PATTERN_HELP, STATUS_PATTERN_REGEX, parseStatusPattern } from './status-filter.js';

/** One skipStatus entry: a code, or a code, range or class as text. */
const statusPattern = z
  .union([
    z.number().int().min(100).max(599),
    z.string().regex(STATUS_PATTERN_REGEX, STATUS_PATTERN_HELP),
  ])
  .superRefine((value, ctx) => {
    const range = parseStatusPattern(value);
    if (typeof range === 'string') ctx.addIssue({ code: 'custom', message: range, input: value });
  })
  .describe('A status code (404), an inclusive range ("400-405") or a class ("5xx").');

const positive = (description: string) => int(description).pipe(z.number().int().min(1));

/**
 * The `crosstown` section of an http service: its pools, queue, deadlines, journal and the
 * defaults of when work scheduled during a request runs. Every default lives here.
 */
export const crosstownSchema = z
  .strictObject({
    threads: positive('Worker threads in the pool of crosstown.thread() tasks. Default: os.availableParallelism(). Started on first use.').optional(),
    processes: positive('Child processes in the pool of crosstown.process() tasks. Default: os.availableParallelism(). Started on first use.').optional(),
    maxQueue: int('How many thread (and, apart, process) tasks may wait for a free worker; one more is dropped, logged and counted, and its promise rejects with HX_ERR_CROSSTOWN_QUEUE_FULL. The response is never affected.')
      .pipe(z.number().int().min(0))
      .default(1000),
    taskTimeout: duration('How long a thread or process task may run before it fails and its worker is replaced (0: no limit). Loop tasks cannot be stopped and have no limit.').default(0),
    drainTimeout: duration(
      'At stop, how long running and queued tasks get to finish once the HTTP drain (bounded by stopTimeout) is over; what is left is reported by task name.',
    ).default(30_000),
    journal: z
      .union([z.string().min(1), z.literal(false)])
      .default(false)
      .describe(
        'A folder, relative to the manifest, where thread and process tasks (module, export and JSON data) are recorded before the response is released and marked done when over; tasks a crash left unfinished are replayed at the next start. false: off.',
      ),
    skipStatus: z
      .array(statusPattern)
      .default([...DEFAULT_SKIP_STATUS])
      .describe(
        'Response statuses after which scheduled work does not run: codes (404), ranges ("400-405") and classes ("5xx"). A call may pass its own list. Empty: always run.',
      ),
    runOnAbort: bool('Whether work scheduled during a request also runs when the client went away before the response finished. A call may say otherwise.').default(false),
  })
  .prefault({})
  .describe('Work after the response: crosstown(fn) on the event loop, crosstown.thread() and crosstown.process() in pools; see docs/crosstown.md.');

/** The validated `crosstown` section. */
export type CrosstownConfig = z.output<typeof crosstownSchema>;

/** The config a runtime uses when none is given (a script, a test): every default. */
export function defaultCrosstownConfig(): CrosstownConfig {
  return crosstownSchema.parse(undefined);
}
