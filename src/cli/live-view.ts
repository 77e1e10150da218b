import { Writable } from 'node:stream';
import { formatDuration } from '../kinds/units.js';

/** One state change of one service, as the orchestrator reports it. */
export interface TransitionEvent {
  service: string;
  kind: string;
  from?: string;
  to: string;
  ms?: number;
  error?: unknown;
  delay?: number;
}

const SYMBOL: Record<string, string> = {
  waiting: '·', created: '·', starting: '◌', ready: '●', stopping: '◌', stopped: '○', failed: '✗', restarting: '↻',
};
/** The ANSI colour of each state, on a terminal (the live view, `hendrix status`). */
export const STATE_COLOR: Readonly<Record<string, string>> = { ready: '32', failed: '31', starting: '33', stopping: '33', restarting: '35', stopped: '90' };

/**
 * The live status block `hendrix up` shows on a terminal while the graph starts and stops.
 * Log lines are held back while the block is live, then released in order ("handing over to
 * the log stream"), so the two never garble each other.
 */
export class LiveView {
  /** A writable to give the logger: passes through, or queues while the view is live. */
  readonly logSink: Writable;
  readonly #out: { write(text: string): unknown };
  readonly #rows = new Map<string, { kind: string; text: string; state: string; waitsOn: readonly string[] }>();
  readonly #held: string[] = [];
  #live = false;
  #drawn = 0;

  constructor(out: { write(text: string): unknown }) {
    this.#out = out;
    this.logSink = new Writable({
      write: (chunk: Buffer | string, _enc, done) => {
        const text = chunk.toString();
        if (this.#live) this.#held.push(text);
        else this.#out.write(text);
        done();
      },
    });
  }

  /**
   * Starts showing the block for these services, each in `initial` state (waiting to start, or
   * ready to stop); `waitsOn` names what must finish first (dependencies to start, dependents
   * to stop), shown as "waiting for …".
   */
  begin(
    services: readonly { name: string; kind: string; waitsOn?: readonly string[] }[],
    phase: string,
    initial: 'waiting' | 'ready' = 'waiting',
  ): void {
    this.#rows.clear();
    const text = initial === 'ready' ? 'running' : 'waiting';
    for (const s of services) this.#rows.set(s.name, { kind: s.kind, text, state: initial, waitsOn: s.waitsOn ?? [] });
    this.#out.write(`${phase}\n`);
    this.#live = true;
    this.#drawn = 0;
    this.#draw();
  }

  /** Applies one state change. */
  update(event: TransitionEvent): void {
    const row = this.#rows.get(event.service);
    if (!row) return;
    row.state = event.to;
    row.text = describe(event);
    if (this.#live) this.#draw();
  }

  /** Shows what a starting service said it waits for (`ctx.waiting()`), with the last cause. */
  waiting(event: { service: string; reason: string; cause?: unknown }): void {
    const row = this.#rows.get(event.service);
    if (!row || row.state !== 'starting') return;
    const cause = event.cause instanceof Error ? ((event.cause as NodeJS.ErrnoException).code ?? event.cause.message) : undefined;
    row.text = `${event.reason}…${cause ? ` (${cause})` : ''}`;
    if (this.#live) this.#draw();
  }

  /** Freezes the block and releases the held log lines. */
  end(): void {
    if (!this.#live) return;
    this.#live = false;
    for (const line of this.#held.splice(0)) this.#out.write(line);
  }

  /** Whether `name` still holds others up: not ready yet (starting), or not stopped yet (stopping). */
  #isPending(name: string, stopping: boolean): boolean {
    const state = this.#rows.get(name)?.state;
    if (state === undefined) return false;
    return stopping ? state !== 'stopped' && state !== 'failed' : state !== 'ready';
  }

  #draw(): void {
    const width = Math.max(0, ...[...this.#rows.keys()].map((n) => n.length));
    let text = this.#drawn ? `\x1b[${this.#drawn}A` : '';
    for (const [name, row] of this.#rows) {
      const waiting = row.state === 'waiting' || row.state === 'created' || (row.state === 'ready' && row.text === 'running');
      const blockers = waiting ? row.waitsOn.filter((dep) => this.#isPending(dep, row.state === 'ready')) : [];
      const status = blockers.length ? `waiting for ${blockers.join(', ')}` : row.text;
      const color = STATE_COLOR[row.state] ?? '0';
      text += `\x1b[2K  \x1b[${color}m${SYMBOL[row.state] ?? '·'}\x1b[0m ${name.padEnd(width)}  \x1b[90m${row.kind}\x1b[0m  ${status}\n`;
    }
    this.#drawn = this.#rows.size;
    this.#out.write(text);
  }
}

function describe(event: TransitionEvent): string {
  switch (event.to) {
    case 'ready':
      return event.ms === undefined ? 'ready' : `ready in ${formatDuration(event.ms)}`;
    case 'stopped':
      return event.ms === undefined ? 'stopped' : `stopped in ${formatDuration(event.ms)}`;
    case 'failed':
      return `failed: ${event.error instanceof Error ? event.error.message : String(event.error ?? 'unknown')}`;
    case 'restarting':
      return event.delay === undefined ? 'restarting' : `restarting in ${formatDuration(event.delay)}`;
    case 'starting':
      return 'starting…';
    case 'stopping':
      return 'stopping…';
    default:
      return event.to;
  }
}
