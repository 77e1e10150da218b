import { request } from 'node:http';
import { HendrixError } from '../errors/hendrix-error.js';
import { errorFromJson } from '../errors/render.js';

/** What the control socket answered: the HTTP status and the body (parsed JSON, else text). */
export interface ControlResponse {
  readonly status: number;
  readonly body: unknown;
}

/** Options of controlRequest. */
export interface ControlRequestOptions {
  /** Gives up (HX_ERR_CONTROL_REQUEST) when aborted, e.g. by AbortSignal.timeout(). */
  signal?: AbortSignal;
}

function notRunning(path: string, cause: unknown, stale: boolean): HendrixError {
  return new HendrixError('HX_ERR_CONTROL_NOT_RUNNING', {
    message: stale
      ? `no hendrix runs for this manifest (nobody answers on the control socket at ${path}; it is left from an instance that was killed)`
      : `no hendrix runs for this manifest (no control socket at ${path})`,
    cause,
  });
}

function transportError(path: string, method: string, route: string, error: NodeJS.ErrnoException): HendrixError {
  if (error.code === 'ENOENT') return notRunning(path, error, false);
  if (error.code === 'ECONNREFUSED') return notRunning(path, error, true);
  if (error.code === 'EACCES' || error.code === 'EPERM') {
    return new HendrixError('HX_ERR_CONTROL_PATH', {
      message: `permission denied on the control socket ${path}: it belongs to another user`,
      hint: 'run the command as the user who runs `hendrix up`',
      cause: error,
    });
  }
  return new HendrixError('HX_ERR_CONTROL_REQUEST', { message: `${method} ${route} on the control socket ${path} failed: ${error.message}`, cause: error });
}

/**
 * Sends one request to the control socket of a running hendrix (`hendrix reload`, `status`,
 * `stop` use it) and returns its status and JSON body. Nothing listening is a HendrixError
 * HX_ERR_CONTROL_NOT_RUNNING; an answer with an error status is returned as it is — see
 * controlErrorOf to turn it into the HendrixError the instance reported.
 */
export function controlRequest(path: string, method: string, route: string, body?: unknown, options: ControlRequestOptions = {}): Promise<ControlResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    const req = request({ socketPath: path, method, path: route, headers, ...(options.signal ? { signal: options.signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => reject(transportError(path, method, route, e)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        if (/json/.test(String(res.headers['content-type']))) {
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = text;
          }
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => reject(transportError(path, method, route, e)));
    req.end(payload);
  });
}

/**
 * The HendrixError a failed control response stands for (the instance's own code, message,
 * hint and place; several errors aggregated under the first one's code), or undefined for a
 * success. The exit code follows the code, as if the error had happened in this process.
 */
export function controlErrorOf(response: ControlResponse): HendrixError | undefined {
  if (response.status < 400) return undefined;
  return errorFromJson(response.body) ?? new HendrixError('HX_ERR_CONTROL_REQUEST', { message: `the control socket answered ${response.status}: ${JSON.stringify(response.body)}` });
}
