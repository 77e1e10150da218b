import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { admin } from '../helpers/admin.js';
import { spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { needCommand } from '../helpers/system-command.js';

const makeDir = useManifestDirs();
const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');
const MANIFEST = 'services:\n  web:\n    kind: http\n    listen: 127.0.0.1:0\n    app: ./app.mjs\n';
// connects to the socket and says how it went: `connected` or the errno code
const CLIENT = "const s = require('node:net').connect(process.argv[1]); s.on('connect', () => { console.log('connected'); s.destroy(); }); s.on('error', (e) => console.log(e.code));";

/** Runs the client as this user, or as `nobody` (uid and gid 65534, no groups) through setpriv. */
function connectAs(user: 'me' | 'nobody', path: string): string {
  const node = [process.execPath, '-e', CLIENT, path];
  const [command, ...args] = user === 'me' ? node : ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...node];
  const result = spawnSync(command!, args, { encoding: 'utf8', timeout: 10_000 });
  return `${result.stdout}${result.stderr}`.trim();
}

describe.runIf(needCommand('setpriv', 'util-linux'))('the control socket refuses another user', () => {
  const running: CliProcess[] = [];
  const open = mkdtempSync(join(tmpdir(), 'hendrix-open-'));
  // a folder every user may enter: only the socket's own mode (0600) stands in the way
  chmodSync(open, 0o755);
  afterAll(() => {
    for (const p of running) if (p.process.exitCode === null) p.process.kill('SIGKILL');
    rmSync(open, { recursive: true, force: true });
  });

  for (const where of ['the default path (a 0700 folder)', '--control in a folder others may enter'] as const) {
    it(`${where}: the socket is 0600; its owner connects, nobody gets EACCES`, async () => {
      const dir = makeDir({ 'hendrix.yaml': MANIFEST, 'app.mjs': 'export default (req, res) => res.end("hi");\n' });
      const args = where.startsWith('--control') ? ['up', '--control', join(open, 'c.sock')] : ['up'];
      const p = spawnCli(args, { cwd: dir });
      running.push(p);
      const path = String((await p.waitForLog(isReady, 15_000)).control);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(connectAs('me', path)).toBe('connected');
      expect(connectAs('nobody', path)).toBe('EACCES');
      // the owner's requests are answered as ever
      expect((await admin({ socket: path }, 'GET', '/status')).status).toBe(200);
      p.process.kill('SIGTERM');
      expect(await p.exited()).toBe(0);
    });
  }
});
