import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { mayPublish, tokenOf, type Authenticator } from './auth.js';
import { PublishRefused, type Hub } from './hub.js';
import { MAX_DEPTH, nestedDeeperThan } from './json-depth.js';
import type { PublishBucket } from './limits.js';
import { checkTopic } from '../../src/net/topics.js';

/** What an HTTP publish needs. */
export interface HttpPublishOptions {
  readonly hub: Hub;
  readonly auth: Authenticator;
  /** `{path}/publish/`: the topic follows it. */
  readonly prefix: string;
  readonly maxPayload: number;
  readonly log: Logger;
  accepting(): boolean;
  /** The publish rate limit of the request's connection (keep-alive requests share one). */
  bucket(req: IncomingMessage): PublishBucket;
}

const STATUS: Record<PublishRefused['code'], number> = { bad_topic: 400, invalid_data: 422, unavailable: 503 };

function answer(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * `POST {path}/publish/{topic}` with a JSON body: publishes with the same auth as the
 * WebSocket (`Authorization: Bearer` or `?token=`) and answers 202 with the message id — so
 * backends, curl and crosstown tasks can publish without a WebSocket.
 */
export function handleHttpPublish(req: IncomingMessage, res: ServerResponse, options: HttpPublishOptions): void {
  const url = new URL(req.url ?? '/', 'http://hub');
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    return answer(res, 405, { error: 'method_not_allowed', message: 'publish with POST' });
  }
  // on a new connection the next try may reach a worker that serves on (a rolling reload)
  if (!options.accepting()) return answer(res, 503, { error: 'unavailable', message: 'the hub is stopping' }, { connection: 'close' });
  const bucket = options.bucket(req);
  if (!bucket.take(performance.now())) {
    options.hub.watch.bite('limits.publishRate', bucket.rate, { burst: bucket.burst, http: true });
    // a client that ignores 429s loses its keep-alive connection (and its bucket with it)
    const close: Record<string, string> = bucket.exhausted ? { connection: 'close' } : {};
    req.resume();
    return answer(res, 429, { error: 'rate_limited', message: 'too many publishes on this connection; slow down' }, { 'retry-after': '1', ...close });
  }
  let topic: string;
  try {
    topic = decodeURIComponent(url.pathname.slice(options.prefix.length));
  } catch {
    return answer(res, 400, { error: 'bad_topic', message: 'the topic is not valid URL encoding' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > options.maxPayload) {
      tooBig = true;
      req.pause();
      answer(res, 413, { error: 'too_large', message: `the body is larger than ${options.maxPayload} bytes` });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('error', () => undefined);
  req.on('end', () => {
    if (tooBig) return;
    void publish(Buffer.concat(chunks).toString('utf8'));
  });

  async function publish(text: string): Promise<void> {
    if (nestedDeeperThan(text, MAX_DEPTH)) return answer(res, 400, { error: 'invalid_data', message: `the body nests arrays and objects more than ${MAX_DEPTH} levels deep` });
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return answer(res, 400, { error: 'bad_json', message: 'the body is not valid JSON' });
    }
    const bad = checkTopic(topic);
    if (bad !== undefined) return answer(res, 400, { error: 'bad_topic', message: bad });
    const token = tokenOf(req, url);
    const grant = token === undefined ? options.auth.anonymous() : await options.auth.verify(token);
    if (grant === undefined) return answer(res, 401, { error: 'unauthorized', message: 'invalid token' });
    if (!mayPublish(grant, topic)) {
      const status = token === undefined && options.auth.enabled ? 401 : 403;
      return answer(res, status, { error: status === 401 ? 'unauthorized' : 'forbidden', message: `not allowed to publish on ${topic}` });
    }
    try {
      const message = await options.hub.publish(topic, data);
      answer(res, 202, { id: message.id });
    } catch (error) {
      if (error instanceof PublishRefused) return answer(res, STATUS[error.code], { error: error.code, message: error.message });
      options.log.error({ err: error, topic }, 'http publish failed');
      answer(res, 500, { error: 'internal', message: 'publish failed' });
    }
  }
}
