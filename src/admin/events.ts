import type { ServerResponse } from 'node:http';
import type { ControlRequest, ControlStreamResult } from '../runtime/control-routes.js';
import type { AdminEvent, AdminEventType } from './types.js';

/** How many events the log keeps for clients that reconnect (`Last-Event-ID`). */
export const EVENT_BUFFER = 1000;

/** How often an idle event stream sends a comment, so that proxies and clients see it alive. */
export const PING_MS = 15_000;

/**
 * A client that reads slower than the graph writes is cut off past this much unsent output
 * (it reconnects with its `Last-Event-ID` and misses nothing the buffer still holds), rather
 * than growing the instance's memory without bound.
 */
const MAX_UNSENT_BYTES = 1024 * 1024;

/** What the log answers to "everything after id N": those events, or a reset when N is no longer (or not yet) known. */
export type Backlog = { readonly events: readonly AdminEvent[] } | { readonly reset: true };

/**
 * The event log of a running instance: the last {@link EVENT_BUFFER} admin events with ids
 * from 1, and the live subscribers (`GET /events` streams). The primary of a graph with
 * workers and a single process feed the same kind of log.
 */
export interface EventLog {
  /** Appends an event (id and ISO time given here) and hands it to every subscriber. */
  push(type: AdminEventType, data: Readonly<Record<string, unknown>>): AdminEvent;
  /** The id of the newest event (0 before the first). */
  readonly lastId: number;
  /** The events after `id`, or a reset when events after it were already dropped or `id` is ahead of the log. */
  after(id: number): Backlog;
  /** Listens to every new event; returns the unsubscribe function. */
  subscribe(listener: (event: AdminEvent) => void): () => void;
  /** Ends every event stream (the instance is going away); later streams end at once. */
  close(): void;
  /** Whether close() was called. */
  readonly closed: boolean;
  /** Listens for close(); returns the unsubscribe function. */
  onClose(listener: () => void): () => void;
}

/** Builds an empty event log; `now` is the clock of the events' times (tests pass their own). */
export function createEventLog(options: { capacity?: number; now?: () => number } = {}): EventLog {
  const capacity = options.capacity ?? EVENT_BUFFER;
  const now = options.now ?? Date.now;
  const buffer: AdminEvent[] = [];
  const listeners = new Set<(event: AdminEvent) => void>();
  const closers = new Set<() => void>();
  let lastId = 0;
  let closed = false;
  return {
    push(type, data) {
      const event: AdminEvent = Object.freeze({ id: ++lastId, time: new Date(now()).toISOString(), type, data });
      buffer.push(event);
      if (buffer.length > capacity) buffer.shift();
      for (const listener of [...listeners]) listener(event);
      return event;
    },
    get lastId() {
      return lastId;
    },
    after(id) {
      // ids run from 1 in every instance: one ahead of ours is from an instance before this one
      if (id > lastId) return { reset: true };
      const oldest = buffer[0]?.id ?? lastId + 1;
      if (id < oldest - 1) return { reset: true };
      return { events: buffer.slice(buffer.length - (lastId - id)) };
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const closer of [...closers]) closer();
    },
    get closed() {
      return closed;
    },
    onClose(listener) {
      closers.add(listener);
      return () => void closers.delete(listener);
    },
  };
}

/** One event as SSE lines: `id:`, `event:` (its type) and `data:` (the whole event as JSON). */
export function formatEvent(event: AdminEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * The id a client resumes after: the `Last-Event-ID` header (what EventSource sends when it
 * reconnects), else `?lastEventId=` (for tools that cannot set headers); undefined for a
 * fresh client, which gets only what happens from now on (it read `GET /status` first, or
 * passes that status's `lastEventId`).
 */
export function resumeIdOf(request: Pick<ControlRequest, 'headers' | 'query'>): number | undefined {
  const header = request.headers?.['last-event-id'];
  const text = (Array.isArray(header) ? header[0] : header) ?? request.query.get('lastEventId') ?? undefined;
  if (text === undefined || text.trim() === '') return undefined;
  const id = Number(text);
  // an id this log never gave (garbage, negative) cannot be resumed: the client starts over
  return Number.isSafeInteger(id) && id >= 0 ? id : -1;
}

/**
 * `GET /events`: Server-Sent Events of the log. A client resuming after an id gets every
 * event after it that the buffer still holds, then the live ones — no gap, no duplicate (the
 * backlog is read and the subscription made in one turn). When events after it were dropped
 * (or the id is not one of this instance's), it gets `event: reset` with the newest id: it
 * should read `GET /status` again. A `: ping` comment every `pingMs` keeps an idle stream
 * alive; the stream ends when the client goes, when the log closes, or when the client reads
 * too slowly.
 */
export function eventStream(log: EventLog, request: Pick<ControlRequest, 'headers' | 'query'>, options: { pingMs?: number } = {}): ControlStreamResult {
  const resume = resumeIdOf(request);
  return {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // nginx and the like would otherwise hold the events back in their buffers
      'x-accel-buffering': 'no',
    },
    stream: (res: ServerResponse, signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        if (log.closed || signal.aborted) return resolve();
        let ended = false;
        const end = () => {
          if (ended) return;
          ended = true;
          unsubscribe();
          unclose();
          clearInterval(ping);
          signal.removeEventListener('abort', end);
          if (!res.writableEnded) res.end();
          resolve();
        };
        const write = (text: string) => {
          if (ended) return;
          res.write(text);
          if (res.writableLength > MAX_UNSENT_BYTES) end();
        };
        // how soon an EventSource reconnects after the stream ends (its default is 3 s)
        let head = 'retry: 1000\n\n';
        if (resume !== undefined) {
          const backlog = log.after(resume);
          if ('reset' in backlog) head += `id: ${log.lastId}\nevent: reset\ndata: ${JSON.stringify({ lastEventId: log.lastId })}\n\n`;
          else head += backlog.events.map(formatEvent).join('');
        }
        const unsubscribe = log.subscribe((event) => write(formatEvent(event)));
        const unclose = log.onClose(end);
        const ping = setInterval(() => write(': ping\n\n'), options.pingMs ?? PING_MS);
        ping.unref();
        signal.addEventListener('abort', end, { once: true });
        res.once('close', end);
        write(head);
      }),
  };
}
