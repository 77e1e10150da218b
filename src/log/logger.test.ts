import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRootLogger } from './logger.js';

/** A stream that keeps what is written, as text. */
function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('the pretty log', () => {
  it('names the service in brackets, and the worker beside it in a worker process', async () => {
    const out = sink();
    const root = await createRootLogger({ format: 'pretty', isTTY: false, output: out.stream });
    root.child({ service: 'web', kind: 'http' }).info({ ms: 3 }, 'ready');
    root.child({ worker: 2 }).child({ service: 'web', kind: 'http' }).info('listening');
    root.info('plain');
    const lines = out.text().split('\n');
    expect(lines.some((l) => l.endsWith('INFO: [web] ready'))).toBe(true);
    expect(lines.some((l) => l.endsWith('INFO: [web w2] listening'))).toBe(true);
    expect(lines.some((l) => l.endsWith('INFO: plain'))).toBe(true);
    // neither the worker nor the service repeat as fields under the line
    expect(out.text()).not.toMatch(/^\s+(worker|service):/m);
  });
});
