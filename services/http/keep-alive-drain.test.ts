import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterLink } from '../../src/kinds/contract.js';
import { createTestContext } from '../../test/helpers/http/test-context.js';
import { nodeRequest, startService, stopAll } from '../../test/helpers/http/test-client.js';
import { HttpService } from './service.js';

// How a drain closes keep-alive connections (connections.ts): never with an RST, never a
// request processed without its answer; when the worker is retired, a last call first.

afterEach(stopAll);
const never = (): AbortSignal => new AbortController().signal;
const recorded = (): string[] => ((globalThis as { hxRecorded?: string[] }).hxRecorded ??= []);

/** A raw client that keeps writing after the server's FIN (allowHalfOpen), and records what it sees. */
function rawClient(port: number): Promise<{ socket: Socket; received: () => string; ended: Promise<void>; closed: Promise<string | undefined> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let text = '';
    let error: string | undefined;
    socket.setEncoding('utf8').on('data', (d: string) => (text += d));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
    const ended = new Promise<void>((r) => socket.once('end', () => r()));
    const closed = new Promise<string | undefined>((r) => socket.once('close', () => r(error)));
    socket.once('connect', () => resolve({ socket, received: () => text, ended, closed }));
    socket.once('error', reject);
  });
}

describe('the drain of keep-alive connections', () => {
  it('a request crossing the FIN of an idle connection is not processed; the client sees the FIN, no answer, and no RST', async () => {
    const { service, port } = await startService({ app: './recording.mjs', keepAliveTimeout: '30s' });
    const client = await rawClient(port);
    client.socket.write('GET /before HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((r) => {
      const check = (): void => void (client.received().endsWith('seen /before') ? r() : client.socket.once('data', check));
      check();
    });
    const answered = client.received();
    const stopped = service.stop(never());
    await client.ended; // the server closed the idle connection (FIN)...
    client.socket.write('GET /crossing HTTP/1.1\r\nHost: x\r\n\r\n'); // ...and a request crosses it
    // a pause for an RST to come back, if one does (the server's socket is gone), then another
    // write, which fails (EPIPE, ECONNRESET) after an RST: the client has stopped reading at the FIN
    await new Promise((r) => setTimeout(r, 50));
    client.socket.end('GET /crossing-2 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await client.closed).toBeUndefined(); // closed without an error: no ECONNRESET
    expect(client.received()).toBe(answered); // not a byte of an answer
    await stopped;
    expect(recorded()).toContain('/before');
    expect(recorded()).not.toContain('/crossing');
    expect(recorded()).not.toContain('/crossing-2');
  });

  it('a retired worker gives idle keep-alive connections a last call: their next request is answered with Connection: close', async () => {
    const ctx = createTestContext({ app: './recording.mjs', keepAliveTimeout: '30s' });
    const retired = { retiring: true, worker: { id: 1 } } as unknown as ClusterLink;
    const service = new HttpService({ ...ctx, cluster: retired });
    await service.start(never());
    const url = service.address()!;
    const busy = new Agent({ keepAlive: true, maxSockets: 1 });
    const quiet = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await nodeRequest(`${url}/busy-1`, { agent: busy });
    const idle = await nodeRequest(`${url}/quiet`, { agent: quiet });
    const quietClosed = new Promise<void>((r) => idle.socket.once('close', () => r()));
    const stopped = service.stop(never());
    // a pause well inside the last call (LAST_CALL_MS, 1 s): without one, the idle connection is closed at once
    await new Promise((r) => setTimeout(r, 100));
    const second = await nodeRequest(`${url}/busy-2`, { agent: busy });
    expect(second.status).toBe(200);
    expect(second.body).toBe('seen /busy-2');
    expect(second.socket).toBe(first.socket); // on the same keep-alive connection
    expect(second.headers.connection).toBe('close');
    await quietClosed; // the connection that stayed quiet is closed once the last call is over
    await stopped;
    busy.destroy();
    quiet.destroy();
  });
});
