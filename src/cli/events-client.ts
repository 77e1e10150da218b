import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { HendrixError, isHendrixError } from '../errors/hendrix-error.js';
import { controlErrorOf, controlRequest } from './control-client.js';

/** One Server-Sent Event as `GET /events` sends it (`event: reset` when the id asked for is gone). */
export interface ServerEvent {
  /** The `id:` field, when the event had one. */
  readonly id: string | undefined;
  /** The `event:` field (`message` when absent, as in EventSource). */
  readonly type: string;
  readonly data: string;
}

/**
 * A parser of the `text/event-stream` format (the WHATWG rules the CLI needs: fields `id`,
 * `event`, `data` — several data lines joined by `\n` —, comments, `\n`/`\r\n` line ends): feed
 * it chunks as they come; it calls `onEvent` once per blank-line-terminated event.
 */
export function createEventParser(onEvent: (event: ServerEvent) => void): (chunk: string) => void {
  let buffer = '';
  let id: string | undefined;
  let type = '';
  let data: string[] = [];
  return (chunk) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.search(/\r?\n|\r/)) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer[end] === '\r' && buffer[end + 1] === '\n' ? 2 : 1));
      if (line === '') {
        if (data.length || type) onEvent({ id, type: type || 'message', data: data.join('\n') });
        type = '';
        data = [];
        id = undefined;
        continue;
      }
      if (line.startsWith(':')) continue; // a comment: the server's keep-alive `: ping`
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') data.push(value);
      else if (field === 'event') type = value;
      else if (field === 'id') id = value;
    }
  };
}

/**
 * Reads `GET /events` on the control socket once, from after `lastEventId`: resolves when the
 * stream ends (the instance closed it, or `signal` aborted), rejects with the transport's
 * HendrixError (HX_ERR_CONTROL_NOT_RUNNING when nobody listens) or with the error the instance
 * answered instead of a stream.
 */
export function readEvents(path: string, lastEventId: string | undefined, onEvent: (event: ServerEvent) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const req = request({ socketPath: path, method: 'GET', path: '/events', headers }, (res) => {
      if ((res.statusCode ?? 0) >= 400 || !/event-stream/.test(String(res.headers['content-type']))) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: quoted as text
          }
          reject(controlErrorOf({ status: Math.max(res.statusCode ?? 0, 400), body }));
        });
        return;
      }
      const parse = createEventParser(onEvent);
      res.setEncoding('utf8');
      res.on('data', parse);
      res.on('end', () => resolve());
      res.on('close', () => resolve());
      res.on('error', () => resolve());
    });
    const onAbort = () => req.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('close', () => signal.removeEventListener('abort', onAbort));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (signal.aborted) return resolve();
      // nobody there: the same error (and wording) as every other client of the control socket
      instanceGone(path).then(
        (gone) =>
          reject(
            gone
              ? new HendrixError('HX_ERR_CONTROL_NOT_RUNNING', { message: `no hendrix runs for this manifest (no control socket at ${path})`, cause: error })
              : new HendrixError('HX_ERR_CONTROL_REQUEST', { message: `GET /events on the control socket ${path} failed: ${error.message}`, cause: error }),
          ),
        reject,
      );
    });
    req.end();
  });
}

/**
 * Whether the instance behind `path` is gone (nobody answers on its socket), asked with
 * `GET /pid`. An instance on its way out may accept a connection and close it unanswered
 * (EPIPE, ECONNRESET): that is asked again a few times, 50 ms apart, before it counts as an
 * error (thrown). False when `signal` aborts.
 */
export async function instanceGone(path: string, signal?: AbortSignal): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await controlRequest(path, 'GET', '/pid', undefined, signal ? { signal } : {});
      return false;
    } catch (error) {
      if (signal?.aborted) return false;
      if (isHendrixError(error) && error.code === 'HX_ERR_CONTROL_NOT_RUNNING') return true;
      if (attempt >= 10 || !(isHendrixError(error) && error.code === 'HX_ERR_CONTROL_REQUEST')) throw error;
    }
    await sleep(50);
  }
}

/** Options of followEvents. */
export interface FollowEventsOptions {
  /** Resume after this id (a status's lastEventId); undefined: from what the server still keeps. */
  readonly lastEventId?: string | undefined;
  readonly onEvent: (event: ServerEvent) => void;
  /** Ends the following (resolves 'aborted'). */
  readonly signal: AbortSignal;
  /** The pause before reconnecting after the stream ended while the instance still runs. */
  readonly retryMs?: number;
}

/**
 * Follows `GET /events` for as long as the instance runs: reconnects with `Last-Event-ID` when
 * the stream ends so that no event kept by the server is missed (the server sends `reset` when
 * the id is older than what it keeps). Resolves `'gone'` once nobody answers on the control
 * socket any more (the instance stopped), `'aborted'` when `signal` aborts; rejects with any
 * other error (e.g. an instance without `GET /events`).
 */
export async function followEvents(path: string, options: FollowEventsOptions): Promise<'gone' | 'aborted'> {
  let last = options.lastEventId;
  const onEvent = (event: ServerEvent) => {
    if (event.id !== undefined) last = event.id;
    options.onEvent(event);
  };
  while (!options.signal.aborted) {
    try {
      await readEvents(path, last, onEvent, options.signal);
    } catch (error) {
      if (isHendrixError(error) && error.code === 'HX_ERR_CONTROL_NOT_RUNNING') return 'gone';
      throw error;
    }
    if (options.signal.aborted) break;
    // the stream ended: the instance is stopping (it closes its control socket last) or it
    // restarted the stream; ask who is there before reconnecting
    if (await instanceGone(path, options.signal)) return 'gone';
    await sleep(options.retryMs ?? 200, undefined, { signal: options.signal }).catch(() => undefined);
  }
  return 'aborted';
}
