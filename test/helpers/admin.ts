import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';

/** Where an admin API answers: the control socket's path, or the TCP listener's base URL. */
export type AdminTarget = { socket: string } | { url: string };

/** An answer of the admin API. */
export interface AdminAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: any;
}

function options(target: AdminTarget, method: string, path: string, headers: OutgoingHttpHeaders) {
  if ('socket' in target) return { socketPath: target.socket, method, path, headers };
  const url = new URL(path, target.url);
  return { host: url.hostname, port: Number(url.port), method, path: `${url.pathname}${url.search}`, headers, agent: false as const };
}

/** One request to the admin API (a real HTTP client over the unix socket or TCP). */
export function admin(target: AdminTarget, method: string, path: string, init: { headers?: OutgoingHttpHeaders; body?: unknown } = {}): Promise<AdminAnswer> {
  return new Promise((resolve, reject) => {
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    const req = request(options(target, method, path, { ...(body ? { 'content-type': 'application/json' } : {}), ...init.headers }), (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One Server-Sent Event as the client read it. */
export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/** A live `GET /events` stream: what came so far, and a wait for what is to come. */
export interface SseClient {
  /** Every event read so far (comments left out). */
  readonly events: SseEvent[];
  /** The comment lines read so far (`: ping`). */
  readonly comments: string[];
  /** Resolves once `test` holds for the events read (rejects after `timeoutMs` with what came). */
  until(test: (events: SseEvent[], comments: string[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Resolves once the server ended the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Opens `GET /events` (with `Last-Event-ID` when given) and parses the stream as EventSource does. */
export function sse(target: AdminTarget, init: { lastEventId?: string; path?: string; headers?: OutgoingHttpHeaders } = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const comments: string[] = [];
    const waiters = new Set<() => void>();
    let endResolve: () => void = () => {};
    const ended = new Promise<void>((r) => (endResolve = r));
    const headers = { ...init.headers, ...(init.lastEventId !== undefined ? { 'last-event-id': init.lastEventId } : {}) };
    const req = request(options(target, 'GET', init.path ?? '/events', headers), (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET /events answered ${res.statusCode}`));
      let buffer = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event: SseEvent = { id: undefined, event: undefined, data: '' };
          let hasField = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line);
            else {
              const colon = line.indexOf(':');
              const field = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
              if (field === 'id') event.id = value;
              else if (field === 'event') event.event = value;
              else if (field === 'data') event.data += event.data ? `\n${value}` : value;
              else continue;
              hasField = true;
            }
          }
          if (hasField && (event.data !== '' || event.event !== undefined)) events.push(event);
        }
        for (const w of [...waiters]) w();
      });
      res.on('end', () => endResolve());
      res.on('close', () => endResolve());
      resolve({
        events,
        comments,
        ended,
        until(test, timeoutMs = 10_000) {
          return new Promise<void>((done, fail) => {
            const check = () => {
              if (!test(events, comments)) return;
              clearTimeout(timer);
              waiters.delete(check);
              done();
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`timed out; events so far: ${JSON.stringify(events.map((e) => [e.id, e.event, e.data.slice(0, 120)]))}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The admin event an SSE event carries (its data is the whole event as JSON). */
export function adminEvent(event: SseEvent): { id: number; time: string; type: string; data: Record<string, any> } {
  return JSON.parse(event.data) as { id: number; time: string; type: string; data: Record<string, any> };
}
