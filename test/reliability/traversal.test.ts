import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange, statusOf } from '../helpers/http/test-client.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { errorLines, inPool, startGraph, type Graph } from '../helpers/reliability.js';

// Path traversal against static folders: hundreds of encodings of "go up and read that", sent
// as raw request targets (a client library would normalize them first). Nothing outside the
// folders may ever come back, whatever the status.

const marker = `SECRET-${Math.random().toString(36).slice(2)}`;
/** Text found only outside the static folders. */
const OUTSIDE = [marker, 'root:x:0:', 'MANIFEST-MARKER', 'APP-SOURCE-MARKER'];

const DOTS = ['..', '%2e%2e', '%2E%2E', '.%2e', '%2e.', '%252e%252e', '%c0%ae%c0%ae', '%e0%80%ae%e0%80%ae', '%ef%bc%8e%ef%bc%8e', '%u002e%u002e', '...', '....', '..;', '..%00', '..%20', '%2e%2e%00'];
const SEPS = ['/', '%2f', '%2F', '\\', '%5c', '%5C', '%252f', '%c0%af', '%c1%9c', '%e0%80%af', '//', '/./'];

/** Every dot × separator spelling of "up", to a few targets, from a few places. */
function variants(): string[] {
  const out: string[] = [];
  for (const dot of DOTS) {
    for (const sep of SEPS) {
      const up = (n: number): string => `${dot}${sep}`.repeat(n);
      out.push(`/static/${up(1)}secret.txt`);
      out.push(`/static/sub/${up(2)}outside${sep}file.txt`);
      out.push(`/static/${up(8)}etc${sep}passwd`);
      out.push(`/${up(1)}hendrix.yaml`);
    }
  }
  return out;
}

const SPECIAL = [
  '/static/link-out.txt', // a symlink to ../secret.txt
  '/static/dir-out/file.txt', // a symlink to ../outside
  '/static/abs-out', // a symlink to /etc/passwd
  '/static/prefix-out/secret.txt', // a symlink to ../public-evil, a sibling whose name starts like public
  '/static/ok.txt%00../../secret.txt',
  '/static/ok.txt%00',
  '/static/%00/../secret.txt',
  '/static/..%2f..%2fsecret.txt',
  '/static/sub/../../secret.txt',
  '/static/sub/./../../secret.txt',
  '/static/./../secret.txt',
  '/static/..',
  '/static/../',
  '/static/..?x=/secret.txt',
  '/static/..#/secret.txt',
  '/static/%2e%2e',
  '/static/\\..\\secret.txt',
  '/static/..\\secret.txt',
  '/static/%5c..%5csecret.txt',
  '/static//etc/passwd',
  '/static/%2fetc%2fpasswd',
  '/static/file:///etc/passwd',
  '/static/C:\\..\\secret.txt',
  '/..',
  '/../secret.txt',
  '//secret.txt',
  '///etc/passwd',
  '/%2e%2e/secret.txt',
  '/.%2e/hendrix.yaml',
  '/hendrix.yaml',
  '/app.mjs',
  '/.%00./hendrix.yaml',
  '/static/.hidden',
  '/static/%2ehidden',
  '/static/ok.txt/..',
  '/static/ok.txt/../../secret.txt',
  '/static/' + '../'.repeat(200) + 'etc/passwd',
  '/static/' + '%2e%2e/'.repeat(200) + 'etc/passwd',
];

describe('path traversal against static folders', () => {
  const dirs = useManifestDirs();
  let graph: Graph;
  let port: number;

  beforeAll(async () => {
    const dir = dirs({
      'app.mjs': '// APP-SOURCE-MARKER\nexport default (req, res) => res.writeHead(404).end("app: not found\\n");\n',
      'secret.txt': marker,
      'outside/file.txt': marker,
      'public-evil/secret.txt': marker,
      'public/ok.txt': 'PUBLIC-OK',
      'public/.hidden': marker,
      'public/sub/inner.txt': 'PUBLIC-INNER',
      'site/index.html': '<h1>site</h1>',
    });
    mkdirSync(join(dir, 'public/empty'), { recursive: true });
    symlinkSync(join(dir, 'secret.txt'), join(dir, 'public/link-out.txt'));
    symlinkSync(join(dir, 'outside'), join(dir, 'public/dir-out'));
    symlinkSync('/etc/passwd', join(dir, 'public/abs-out'));
    symlinkSync(join(dir, 'public-evil'), join(dir, 'public/prefix-out'));
    symlinkSync('ok.txt', join(dir, 'public/link-in.txt'));
    const manifest = [
      '# MANIFEST-MARKER',
      'version: 1',
      'services:',
      '  web:',
      '    kind: http',
      '    listen: "127.0.0.1:0"',
      '    app: ./app.mjs',
      '    static: { /static: ./public, /: ./site }',
      '',
    ].join('\n');
    graph = await startGraph(dir, manifest);
    port = graph.port('web');
  });
  afterAll(async () => {
    await graph?.app.stop();
  });

  const get = async (target: string, method = 'GET'): Promise<{ status: number; text: string }> => {
    const { text } = await rawExchange(port, Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1'), 3_000);
    return { status: statusOf(text), text };
  };

  it('serves what is inside (the controls)', async () => {
    expect((await get('/static/ok.txt')).text).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nPUBLIC-OK$/);
    expect((await get('/static/link-in.txt')).text).toMatch(/\r\n\r\nPUBLIC-OK$/);
    expect((await get('/static/sub/inner.txt')).text).toMatch(/\r\n\r\nPUBLIC-INNER$/);
    expect((await get('/static/sub/%69nner.txt')).text).toMatch(/\r\n\r\nPUBLIC-INNER$/);
    expect((await get('/')).text).toMatch(/<h1>site<\/h1>$/);
  });

  it(`${variants().length + SPECIAL.length * 2} traversal variants: nothing from outside the folders, ever`, async () => {
    const targets = [...variants(), ...SPECIAL, ...SPECIAL.map((t) => `http://x${t}`)];
    const statuses = new Map<number, number>();
    const leaks: string[] = [];
    await inPool(targets, 32, async (target) => {
      for (const method of ['GET', 'HEAD']) {
        const { status, text } = await get(target, method);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (OUTSIDE.some((m) => text.includes(m))) leaks.push(`${method} ${target} → ${status}`);
        // a 200 may only be a file inside: the two controls' texts, the site's index
        if (status === 200 && method === 'GET' && !/PUBLIC-OK|PUBLIC-INNER|<h1>site<\/h1>/.test(text)) leaks.push(`${method} ${target} → 200 ${text.slice(-40)}`);
      }
    });
    expect(leaks).toEqual([]);
    expect(statuses.get(0) ?? 0).toBe(0); // every request answered
    expect(errorLines(graph.lines)).toEqual([]);
  }, 25_000);
});
