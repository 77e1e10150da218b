import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { addressOf, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';

// Log lines come out in the order they happened, up to the last one. The built CLI (`npm run
// build` first) with JSON logs on a pipe, stopped with SIGTERM.
//
// The app keeps the libuv thread pool (one thread here) busy from the signal on, as a crosstown
// journal, static files or a DNS lookup may at that moment: log lines written through the pool
// then wait, and a line written at exit past them came out first (`hendrix stopped` before
// `api stopped`). The hub has a client, so the stop spans several turns of the event loop.

const project = useManifestDirs();
const running: CliProcess[] = [];
const clients: WebSocket[] = [];

afterEach(() => {
  for (const ws of clients.splice(0)) ws.terminate();
  for (const p of running.splice(0)) if (p.process.exitCode === null) p.process.kill('SIGKILL');
});

const APP = `import { pbkdf2 } from 'node:crypto';
process.once('SIGTERM', () => pbkdf2('busy', 'pool', 2_000_000, 32, 'sha256', () => {}));
export default (req, res) => res.end('ok');
`;

const MANIFEST = `version: 1
services:
  web: { kind: http, listen: '127.0.0.1:0', app: ./app.mjs }
  hub: { kind: pubsub, attach: web }
  api: { kind: http, listen: '127.0.0.1:0', app: ./app.mjs }
  docs: { kind: http, listen: '127.0.0.1:0', app: ./app.mjs, dependsOn: [api] }
`;

const SERVICES = ['web', 'hub', 'api', 'docs'];

type Line = Record<string, unknown>;

function jsonLines(stdout: string): Line[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Line);
}

describe('hendrix up: log lines in the order they happened', () => {
  it('prints every service `stopped` before the final `stopped` of hendrix, run after run', async () => {
    const dir = project({ 'app.mjs': APP, 'hendrix.yaml': MANIFEST });
    for (let run = 1; run <= 5; run++) {
      const p = spawnCli(['up'], { cwd: dir, env: { UV_THREADPOOL_SIZE: '1' } });
      running.push(p);
      const ready = await p.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('ready:'));
      const ws = new WebSocket(addressOf(ready, 'hub'));
      clients.push(ws);
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      p.process.kill('SIGTERM');
      expect(await p.exited()).toBe(0);

      const lines = jsonLines(p.stdout());
      const at = (service: string, msg: string) => lines.flatMap((l, i) => (l['service'] === service && l['msg'] === msg ? [i] : []));
      const final = at('hendrix', 'stopped');
      expect(final, `run ${run}: one final line\n${p.stdout()}`).toHaveLength(1);
      expect(final[0], `run ${run}: the final line is the last one\n${p.stdout()}`).toBe(lines.length - 1);
      for (const service of SERVICES) {
        const stopped = at(service, 'stopped');
        expect(stopped, `run ${run}: ${service} stopped once\n${p.stdout()}`).toHaveLength(1);
        expect(stopped[0], `run ${run}: ${service} stopped before hendrix\n${p.stdout()}`).toBeLessThan(final[0] as number);
      }
      expect(at('hendrix', 'stopping')[0], `run ${run}: stopping first\n${p.stdout()}`).toBeLessThan(Math.min(...SERVICES.map((s) => at(s, 'stopped')[0] as number)));
      // every line in the order it was logged: the timestamps never go back
      const times = lines.map((l) => String(l['time']));
      expect(times, `run ${run}\n${p.stdout()}`).toEqual([...times].sort());
    }
  });
});
