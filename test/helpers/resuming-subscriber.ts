import type { WebSocket } from 'ws';
import type { Frame, HubClient } from './pubsub/test-client.js';
import { connectPlaced } from './workers-hub.js';

/**
 * A hub subscriber that behaves as the protocol asks of a client (docs/pubsub-protocol.md):
 * it keeps the id of the last message it saw and, when the server closes its connection,
 * reconnects at once and resubscribes with `since` = that id. It records everything a test
 * checks: the seq of every message in arrival order across its connections, each close code,
 * each subscribe ack, and the workers it was connected to.
 */
export class ResumingSubscriber {
  /** The seqs of every message received on the topic, in arrival order, over every connection. */
  readonly seqs: number[] = [];
  readonly epochs = new Set<string>();
  /** The close code of each connection the server closed. */
  readonly closes: number[] = [];
  /** Every subscribe ack, the first one included. */
  readonly acks: Frame[] = [];
  /** The worker pid of each connection. */
  readonly pids: number[] = [];
  /** Connection attempts that failed (then retried): what happened. */
  readonly retries: string[] = [];
  #last: string | undefined;
  #client: HubClient | undefined;
  #stopped = false;
  #resuming: Promise<void> | undefined;

  constructor(
    private readonly base: string,
    private readonly topic: string,
    private readonly deadlineMs = 15_000,
  ) {}

  /** How many times it connected after the first. */
  get reconnects(): number {
    return Math.max(0, this.pids.length - 1);
  }

  /** The last id seen. */
  get last(): string | undefined {
    return this.#last;
  }

  /** Connects and subscribes (from `since` = the last id seen, if any); resolves on the ack. */
  async connect(): Promise<void> {
    const { client, pid } = await connectPlaced(this.base);
    this.#client = client;
    this.pids.push(pid);
    const ws: WebSocket = client.ws;
    let subscribed = false;
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as Frame;
      if (frame.type === 'message' && frame['topic'] === this.topic) this.#record(String(frame['id']));
      // the ack is recorded once, whether the connection lives on or closes right after
      else if (frame.type === 'ack' && frame['id'] === 'sub') {
        this.acks.push(frame);
        subscribed = true;
      }
    });
    ws.on('close', (code) => {
      if (this.#client !== client || this.#stopped) return;
      this.closes.push(code);
      // closed before the ack: connect() rejects, and whoever called it tries again
      if (!subscribed) return;
      this.#resuming = this.#resume();
    });
    client.send({ type: 'subscribe', topic: this.topic, id: 'sub', ...(this.#last === undefined ? {} : { since: this.#last }) });
    const ack = await client.next((f) => f['id'] === 'sub', 10_000);
    if (ack.type !== 'ack') throw new Error(`subscribe refused: ${JSON.stringify(ack)}`);
  }

  /** Resolves once connected and subscribed (after a close: once resumed). */
  async settled(): Promise<void> {
    while (this.#resuming) {
      const resuming = this.#resuming;
      await resuming;
      if (this.#resuming === resuming) this.#resuming = undefined;
    }
  }

  /** Closes for good (no resume). */
  close(): void {
    this.#stopped = true;
    this.#client?.close();
  }

  #record(id: string): void {
    this.#last = id;
    this.epochs.add(id.slice(0, id.lastIndexOf(':')));
    this.seqs.push(Number(id.slice(id.lastIndexOf(':') + 1)));
  }

  /** Reconnects until subscribed again (a try may land on a worker that is stopping: retried). */
  async #resume(): Promise<void> {
    const deadline = Date.now() + this.deadlineMs;
    for (;;) {
      if (this.#stopped) return;
      try {
        return await this.connect();
      } catch (error) {
        this.retries.push((error as Error).message);
        if (Date.now() > deadline) throw new Error(`could not resume within ${this.deadlineMs} ms: ${this.retries.slice(-3).join('; ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}
