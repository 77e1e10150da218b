import { WebSocket, type ClientOptions } from 'ws';

/** A frame the hub sent. */
export type Frame = Record<string, unknown> & { type: string };

/** A real `ws` client of the hub that keeps every frame and can wait for one. */
export class HubClient {
  readonly frames: Frame[] = [];
  readonly ws: WebSocket;
  #waiters = new Set<() => void>();
  /** The close code and reason, once closed. */
  closed: { code: number; reason: string } | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Frame);
      for (const w of this.#waiters) w();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      for (const w of this.#waiters) w();
    });
    ws.on('error', () => undefined);
  }

  /** Connects and resolves once open (rejects with the HTTP status when refused). */
  static connect(url: string, options: ClientOptions = {}): Promise<HubClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const client = new HubClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** Sends a frame (an object as JSON, or raw text). */
  send(frame: Record<string, unknown> | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Resolves with the first frame (from `from` on) matching `test`. */
  next(test: (frame: Frame) => boolean, timeoutMs = 3_000, from = 0): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.frames.slice(from).find(test);
        if (found) return done(() => resolve(found));
        if (this.closed) return done(() => reject(new Error(`closed ${this.closed?.code} before the frame; got ${JSON.stringify(this.frames)}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out; got ${JSON.stringify(this.frames)}`))), timeoutMs);
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        fn();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Sends a frame with an id and waits for its ack, error or pong. */
  async request(frame: Record<string, unknown>): Promise<Frame> {
    const id = `r${Math.random().toString(36).slice(2, 8)}`;
    this.send({ ...frame, id });
    return this.next((f) => f['id'] === id && (f.type === 'ack' || f.type === 'error' || f.type === 'pong'));
  }

  /** Messages received on `topic` (or all). */
  messages(topic?: string): Frame[] {
    return this.frames.filter((f) => f.type === 'message' && (topic === undefined || f['topic'] === topic));
  }

  /** Resolves once closed, with the code. */
  async whenClosed(timeoutMs = 3_000): Promise<{ code: number; reason: string }> {
    await this.next(() => false, timeoutMs).catch(() => undefined);
    if (!this.closed) throw new Error('not closed');
    return this.closed;
  }

  close(): void {
    this.ws.close();
  }
}
