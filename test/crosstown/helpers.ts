import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { up, type Hendrix } from '../../src/index.js';
import type { HttpHandle } from '../../services/http/service.js';

/** The app fixture in its three shapes. */
export const APP = fileURLToPath(new URL('./fixtures/app.mjs', import.meta.url));
export const TASKS = fileURLToPath(new URL('./fixtures/tasks.mjs', import.meta.url));

/** What a task of the fixture app did. */
export interface TaskEvent {
  id: string;
  phase: 'start' | 'end' | 'result' | 'error';
  at: number;
  value?: unknown;
  code?: string;
  message?: string;
}

/** The events the fixture app records (it shares this process). */
export const events: TaskEvent[] = ((globalThis as Record<symbol, unknown>)[Symbol.for('hendrix.test.crosstown')] ??= []) as TaskEvent[];

/** The events of one task id (or id prefix) and phase. */
export function eventsOf(id: string, phase?: TaskEvent['phase']): TaskEvent[] {
  return events.filter((e) => (e.id === id || e.id.startsWith(`${id}-`)) && (phase === undefined || e.phase === phase));
}

/** A JSON log line. */
export type Line = Record<string, unknown> & { level: number; msg: string };

/** A logger that keeps every line. */
export function capture(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log = pino({ level: 'debug', base: undefined, serializers: { err: pino.stdSerializers.errWithCause } }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) });
  return { log, lines };
}

/** A running graph with one http service `web` running the fixture app. */
export interface Web {
  app: Hendrix;
  url: string;
  lines: Line[];
  handle: HttpHandle;
}

/** Starts `web` on 127.0.0.1:0 with the fixture app's `shape` export and the given fields. */
export async function startWeb(dir: string, shape: 'listener' | 'fetchApp' | 'factory', fields: Record<string, unknown> = {}): Promise<Web> {
  const service = { kind: 'http', listen: '127.0.0.1:0', app: `${APP}#${shape}`, ...fields };
  const manifest = `version: 1\nservices:\n  web: ${JSON.stringify(service)}\n`;
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'hendrix.yaml'), manifest);
  const { log, lines } = capture();
  const app = await up(join(dir, 'hendrix.yaml'), { environment: {}, logger: log });
  return { app, url: app.addresses().web!, lines, handle: app.handle<HttpHandle>('web') };
}

/** GET a URL; resolves with status, body and when the whole response had arrived. */
export function get(url: string): Promise<{ status: number; body: string; at: number }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, at: Date.now() }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/** Polls until `predicate` holds. */
export async function until(predicate: () => boolean, ms = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms; events: ${JSON.stringify(events.slice(-20))}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
