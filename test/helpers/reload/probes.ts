import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { HubClient } from '../pubsub/test-client.js';

/** The SHA-256 fingerprint of a PEM certificate, as Node prints it (`AB:CD:…`). */
export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** Makes a fresh TLS connection to `url` (trusting `ca`) and returns the fingerprint of the certificate served. */
export function servedFingerprint(url: string, ca: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca, servername: 'localhost' }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (cert === undefined) reject(new Error('no peer certificate'));
      else resolve(cert.fingerprint256);
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no handshake within the deadline')));
    socket.on('error', reject);
  });
}

/** What a fresh WebSocket connection to `url` gets: `open` (then closed by us) or the refusal. */
export async function wsOutcome(url: string, ca: string): Promise<string> {
  try {
    const client = await HubClient.connect(url, { ca });
    client.close();
    return 'open';
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Connects a fresh publisher to `url` (its token in the query) and publishes `bytes` of data on
 * `topic`: `ack` when accepted, `closed <code>` when the hub closed it (1009: larger than maxPayload).
 */
export async function bigPublish(url: string, bytes: number, topic: string): Promise<string> {
  const client = await HubClient.connect(url);
  try {
    client.send({ type: 'publish', topic, data: 'x'.repeat(bytes), id: 'big' });
    // generous: the machine is shared
    const answer = await client.next((f) => f['id'] === 'big', 10_000);
    return answer.type;
  } catch {
    const closed = await client.whenClosed(10_000);
    return `closed ${closed.code}`;
  } finally {
    client.close();
  }
}
