import { request, type Agent } from 'node:https';
import { request as plainRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as http2Connect, type ClientHttp2Session, type IncomingHttpHeaders as Http2Headers } from 'node:http2';
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

/** An HTTP/2 session to the listener at 127.0.0.1, once connected; the caller closes it. */
export function h2Session(options: { port: number; ca: string; servername: string }): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`https://127.0.0.1:${options.port}`, { ca: options.ca, servername: options.servername });
    session.once('connect', () => {
      session.off('error', reject);
      resolve(session);
    });
    session.once('error', reject);
  });
}

/** The subject CN of the certificate an HTTP/2 session's server presented. */
export function h2ServerCN(session: ClientHttp2Session): string | undefined {
  const socket = session.socket as TLSSocket;
  return [socket.getPeerCertificate().subject?.CN].flat()[0];
}

/** One GET on an HTTP/2 session. */
export function h2Get(session: ClientHttp2Session, path = '/'): Promise<{ status: number; headers: Http2Headers; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path });
    let headers: Http2Headers = {};
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => (headers = h));
    stream.on('data', (c: string) => (body += c));
    stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body }));
    stream.on('error', reject);
  });
}

/** One plain-http request (no keep-alive) to 127.0.0.1:`port` with a Host header. */
export function plainGet(port: number, path = '/', host = 'example.test'): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = plainRequest({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
