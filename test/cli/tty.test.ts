import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT } from '../helpers/cli.js';

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');

describe('hendrix up on a terminal', () => {
  it('shows each service state live, then hands over to pretty logs; Ctrl-C stops it', async () => {
    // util-linux `script` gives the CLI a real pseudo-terminal; ^C on it sends SIGINT
    const child = spawn('script', ['-qfec', `exec ${process.execPath} ${BIN} up -f hendrix.yaml.example --set services.web.listen=127.0.0.1:0 --set services.secure.listen=127.0.0.1:0`, '/dev/null'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERM: 'xterm' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const deadline = Date.now() + 15_000;
    while (!/ready: web http:\/\/127\.0\.0\.1:\d+, hub ws:\/\/127\.0\.0\.1:\d+\/hub, secure https:/.test(strip(out)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.stdin.write('\x03');
    const [code] = (await once(child, 'exit')) as [number | null];
    const text = strip(out);
    expect(code).toBe(0);
    expect(out).toMatch(/\x1b\[3A/); // the status block (three lines) is redrawn in place
    expect(text).toMatch(/web\s+http\s+waiting/);
    expect(text).toMatch(/web\s+http\s+ready in \d+ ms/);
    expect(text).toMatch(/INFO: \[hendrix\] ready: web http:\/\/127\.0\.0\.1:\d+, hub ws:\/\/127\.0\.0\.1:\d+\/hub, secure https:\/\/127\.0\.0\.1:\d+/);
    expect(text).toMatch(/secure\s+tls\s+ready in \d+ ms/);
    expect(text).toMatch(/web\s+http\s+stopped in \d+ ms/);
    // the live block comes before the log lines it held back
    expect(text.indexOf('ready in')).toBeLessThan(text.indexOf('[web] listening'));
  });
});
