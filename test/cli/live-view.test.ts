import { describe, expect, it } from 'vitest';
import { LiveView } from '../../src/cli/live-view.js';

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

describe('LiveView', () => {
  it('shows each service state live and holds log lines until it hands over', () => {
    let out = '';
    const view = new LiveView({ write: (t: string) => (out += t) });
    view.begin([{ name: 'db', kind: 'http' }, { name: 'web', kind: 'http' }], 'starting');
    view.logSink.write('log line one\n');
    view.update({ service: 'db', kind: 'http', to: 'starting' });
    view.update({ service: 'db', kind: 'http', to: 'ready', ms: 12 });
    view.update({ service: 'web', kind: 'http', to: 'failed', error: new Error('port in use') });
    expect(strip(out)).toContain('waiting');
    expect(strip(out)).toContain('db   http  ready in 12 ms');
    expect(strip(out)).toContain('web  http  failed: port in use');
    expect(out).not.toContain('log line one');
    view.end();
    expect(out.endsWith('log line one\n')).toBe(true);
    view.logSink.write('log line two\n');
    expect(out.endsWith('log line two\n')).toBe(true);
  });

  it('says what each service waits for, to start and to stop', () => {
    let out = '';
    const view = new LiveView({ write: (t: string) => (out += t) });
    view.begin([{ name: 'db', kind: 'x' }, { name: 'web', kind: 'x', waitsOn: ['db'] }], 'starting');
    expect(strip(out)).toContain('web  x  waiting for db');
    view.update({ service: 'db', kind: 'x', to: 'ready', ms: 3 });
    const last = strip(out).split('\n').slice(-2).join('\n');
    expect(last).toContain('web  x  waiting');
    expect(last).not.toContain('waiting for db');
    view.end();
    out = '';
    view.begin([{ name: 'web', kind: 'x' }, { name: 'db', kind: 'x', waitsOn: ['web'] }], 'stopping', 'ready');
    expect(strip(out)).toContain('db   x  waiting for web');
    expect(strip(out)).toContain('web  x  running');
  });

  it('redraws in place: moves the cursor up over its own block', () => {
    let out = '';
    const view = new LiveView({ write: (t: string) => (out += t) });
    view.begin([{ name: 'a', kind: 'x' }], 'starting');
    view.update({ service: 'a', kind: 'x', to: 'restarting', delay: 200 });
    expect(out).toContain('\x1b[1A');
    expect(strip(out)).toContain('restarting in 200 ms');
  });

  it('shows what a starting service waits for, with the errno of the last error', () => {
    let out = '';
    const view = new LiveView({ write: (t: string) => (out += t) });
    view.begin([{ name: 'bot', kind: 'irc' }], 'starting');
    view.waiting({ service: 'bot', reason: 'connecting to 127.0.0.1:6667' });
    expect(strip(out)).not.toContain('connecting'); // not starting yet: nothing to say
    view.update({ service: 'bot', kind: 'irc', to: 'starting' });
    view.waiting({ service: 'bot', reason: 'retrying 127.0.0.1:6667 in 200 ms', cause: Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' }) });
    expect(strip(out)).toContain('bot  irc  retrying 127.0.0.1:6667 in 200 ms… (ECONNREFUSED)');
    view.update({ service: 'bot', kind: 'irc', to: 'ready', ms: 5 });
    expect(strip(out).split('\n').slice(-2).join('\n')).toContain('bot  irc  ready in 5 ms');
  });
});
