import { request as httpRequest, type ClientRequest } from 'node:http';
import { createRequire } from 'node:module';
import type { AdminEvent, StatusJson } from '../../src/admin/types.js';

/** An answer of the control socket: status and the body parsed as JSON (or the text). */
export interface ControlAnswer {
  status: number;
  body: unknown;
  text: string;
}

/** Sends `METHOD path` to the control socket and collects the answer. */
export function controlCall(socketPath: string, method: string, path: string): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, method }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON (GET /metrics): the text
        }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer within the deadline`)));
    req.on('error', reject);
    req.end();
  });
}

/** `GET /status` of the control socket. */
export async function statusOf(socketPath: string): Promise<StatusJson> {
  const answer = await controlCall(socketPath, 'GET', '/status');
  if (answer.status !== 200) throw new Error(`GET /status: ${answer.status} ${answer.text}`);
  return answer.body as StatusJson;
}

/** A live `GET /events` stream: the events so far, in order. */
export interface EventReader {
  readonly events: AdminEvent[];
  /** Resolves with the first event (seen or to come) that matches, failing after `ms`. */
  waitFor(test: (event: AdminEvent) => boolean, what: string, ms?: number): Promise<AdminEvent>;
  close(): void;
}

/** Reads `GET /events` from the control socket, resuming after `lastEventId` when given. */
export function readEvents(socketPath: string, lastEventId?: number): EventReader {
  const events: AdminEvent[] = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  const req: ClientRequest = httpRequest({ socketPath, path: '/events', headers: lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        if (data && !/^event: reset$/m.test(block)) events.push(JSON.parse(data) as AdminEvent);
      }
      for (const w of [...waiters]) w();
    });
  });
  req.on('error', () => undefined);
  req.end();
  return {
    events,
    waitFor(test, what, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = events.find(test);
          if (!found) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out waiting for ${what}; events: ${JSON.stringify(events.map((e) => [e.id, e.type, e.data]))}`));
        }, ms);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close() {
      req.destroy();
    },
  };
}

/** One family of a Prometheus text exposition, as parse-prometheus-text-format gives it. */
export interface PromFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

/** Parses `GET /metrics` as Prometheus does (parse-prometheus-text-format), by family name. */
export function parseMetrics(text: string): Map<string, PromFamily> {
  const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => PromFamily[];
  return new Map(parse(text).map((family) => [family.name, family]));
}

/** The value of the sample of `family` whose labels include `labels`; undefined when there is none. */
export function sample(families: Map<string, PromFamily>, family: string, labels: Record<string, string> = {}): number | undefined {
  const found = families.get(family)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (found === undefined) return undefined;
  return Number(found.value ?? found.count);
}
