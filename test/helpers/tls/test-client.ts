import { request, type Agent } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { connect as tlsConnect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';

/** What an https GET saw: the response and the server certificate. */
export interface HttpsResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly json: () => Record<string, unknown>;
  /** The subject CN of the certificate the server presented. */
  readonly serverCN: string | undefined;
  readonly serverCert: PeerCertificate;
  readonly socket: TLSSocket;
}

/** Options of httpsGet: TLS options of the client plus the port and path. */
export interface HttpsGetOptions extends ConnectionOptions {
  port: number;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  agent?: Agent | false;
}

/** One https request with a real client; resolves with the response and what TLS showed. */
export function httpsGet(options: HttpsGetOptions): Promise<HttpsResult> {
  const { port, path = '/', method = 'GET', headers = {}, agent = false, ...tls } = options;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent, ...tls }, (res) => {
      const socket = res.socket as TLSSocket;
      const serverCert = socket.getPeerCertificate();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as Record<string, unknown>, serverCN: [serverCert.subject?.CN].flat()[0], serverCert, socket }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Completes a TLS handshake (or fails it) and resolves with the socket, connected; the caller ends it. */
export function handshake(options: ConnectionOptions & { port: number }): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Why a handshake failed (the error message), or 'connected'. */
export async function handshakeOutcome(options: ConnectionOptions & { port: number }): Promise<string> {
  try {
    const socket = await handshake(options);
    // TLS 1.3 sends the server's verdict on a client certificate after the handshake
    const late = await new Promise<string | undefined>((resolve) => {
      socket.once('error', (e) => resolve(e.message));
      socket.once('end', () => resolve('closed by server'));
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      socket.once('data', () => resolve(undefined));
    });
    socket.destroy();
    return late ?? 'connected';
  } catch (error) {
    return (error as Error).message;
  }
}
