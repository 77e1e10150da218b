import { request as httpRequest, Agent, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { HendrixError } from '../../../src/errors/hendrix-error.js';
import { startFailure } from '../start-failure.js';
import { HttpService } from '../../../services/http/service.js';
import { createTestContext, type TestContext, type TestContextOptions } from './test-context.js';

/** A started service under test and how to reach it. */
export interface Running {
  readonly service: HttpService;
  readonly ctx: TestContext;
  readonly url: string;
  readonly port: number;
}

const started = new Set<HttpService>();

/** Builds and starts an http service on 127.0.0.1:0 (stopped by stopAll()). */
export async function startService(partial: Record<string, unknown> = {}, options: TestContextOptions = {}): Promise<Running> {
  const ctx = createTestContext(partial, options);
  const service = new HttpService(ctx);
  started.add(service);
  await service.start(AbortSignal.timeout(10_000));
  const url = service.address() ?? '';
  const address = service.handle().address();
  const port = address && 'port' in address ? address.port : 0;
  return { service, ctx, url, port };
}

/** Starts a service that must fail; returns its HendrixError after stopping it (which must work). */
export async function startError(partial: Record<string, unknown>): Promise<HendrixError> {
  const service = new HttpService(createTestContext(partial));
  return startFailure(service);
}

/** Stops every service startService() started; for afterEach. */
export async function stopAll(): Promise<void> {
  const all = [...started];
  started.clear();
  await Promise.all(all.map((s) => s.stop(AbortSignal.timeout(2_000))));
}

/** Writes raw bytes to a port and collects everything until the server closes (or `ms` passes). */
export function rawExchange(port: number, data: string | Buffer, ms = 2_000): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closedByServer: false });
    }, ms);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e) => {
      clearTimeout(timer);
      if (chunks.length) resolve({ text: Buffer.concat(chunks).toString('latin1'), closedByServer: true });
      else reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closedByServer: true });
    });
    socket.write(data);
  });
}

/** The status code of a raw HTTP response text. */
export function statusOf(text: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
}

/** A GET of a raw request target (not normalized, unlike fetch) with `Connection: close`. */
export async function rawGet(port: number, target: string): Promise<{ status: number; text: string }> {
  const { text } = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  return { status: statusOf(text), text };
}

/** A response read fully by node:http. */
export interface NodeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  socket: Socket;
}

/** A node:http request (for keep-alive agents, raw headers and HEAD). */
export function nodeRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; agent?: Agent | false; body?: string } = {},
): Promise<NodeResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      const socket = res.socket; // an agent takes it back at 'end'
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks).toString('utf8'),
          socket,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Resolves once `predicate` holds, polling every few milliseconds. */
export async function until(predicate: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
