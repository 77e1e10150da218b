import { lazyWireMessage, type DumpedMessage } from './backplane.js';
import { payloadOf, textFrameOf } from './frame.js';
import type { History } from './history.js';

/** The text of a `message` frame (docs/pubsub-protocol.md); `json` is the data as published. */
export function messageText(topic: string, id: string, json: string, ts: number): string {
  return `${messageHead(topic, id)}${json},"ts":${ts}}`;
}

function messageHead(topic: string, id: string): string {
  return `{"type":"message","topic":${JSON.stringify(topic)},"id":${JSON.stringify(id)},"data":`;
}

/**
 * The data (JSON text, as published) and ts of a frame messageText() built: the history keeps
 * only frames, so a snapshot reads them back rather than keeping the text twice. `ts` is last,
 * so the last `,"ts":` is the one after the data whatever the data holds.
 */
export function fromMessageFrame(frame: Buffer, topic: string, id: string): { json: string; ts: number } {
  const text = payloadOf(frame);
  const end = text.lastIndexOf(',"ts":');
  return { json: text.slice(messageHead(topic, id).length, end), ts: Number(text.slice(end + 6, -1)) };
}

/** Every message `history` keeps, as a snapshot for a joining hub (SharedHistory.dump). */
export function dumpHistory(history: History): DumpedMessage[] {
  const dumped: DumpedMessage[] = [];
  for (const { topic, epoch, messages } of history.kept()) {
    for (const { seq, frame } of messages) dumped.push({ topic, epoch, seq, ...fromMessageFrame(frame, topic, `${epoch}:${seq}`) });
  }
  return dumped;
}

/**
 * Keeps another hub's snapshot in `history` (SharedHistory.restore), each message at the time
 * it was published (no later than now): its ttl and the topic's idleness run out here when
 * they do in the hub it came from. Messages of topics this hub's rules do not keep are skipped.
 */
export function restoreHistory(history: History, messages: readonly DumpedMessage[], now: number): void {
  for (const { topic, epoch, seq, ts, json } of messages) {
    if (!history.keeps(topic)) continue;
    const frame = textFrameOf(messageText(topic, `${epoch}:${seq}`, json, ts), true);
    history.record(lazyWireMessage(topic, epoch, seq, ts, json), frame, Math.min(ts, now));
  }
}
