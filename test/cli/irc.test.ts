import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Observer } from '../helpers/irc/test-harness.js';
import { spawnCli, type CliProcess } from '../helpers/cli.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../helpers/ngircd.js';
import { needCommand } from '../helpers/system-command.js';

// The built CLI (`npm run build` first): irc-framework stays outside the bundle and is loaded
// from node_modules, so this is the check that the bundle finds it.
describe.runIf(needCommand('ngircd'))('hendrix up examples/irc-relay (the built CLI)', () => {
  let server: Ngircd;
  let watcher: Observer | undefined;
  const running: CliProcess[] = [];

  beforeAll(async () => {
    server = await startNgircd();
    watcher = await Observer.connect(server.port, 'cliuser', ['#ops']);
  });
  afterEach(() => {
    for (const p of running.splice(0)) if (p.process.exitCode === null) p.process.kill('SIGKILL');
  });
  afterAll(async () => {
    await watcher?.close();
    await stopAllNgircd();
  });

  it('joins, relays an HTTP publish to the channel, and QUITs on SIGTERM with exit code 0', async () => {
    const p = spawnCli(['up', '-f', 'examples/irc-relay/hendrix.yaml'], { env: { PORT: '0', IRC_SERVER: server.server, IRC_NICK: 'hxcli' } });
    running.push(p);
    const ready = await p.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('ready:'), 20_000);
    const addresses = ready.services as Record<string, string>;
    expect(addresses['bot']).toBe(`irc://${server.server}`);
    expect(await watcher!.names('#ops')).toContain('hxcli');

    const res = await fetch(`${addresses['web']}/hub/publish/alerts.cpu`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'cpu 99%' }) });
    expect(res.status).toBe(202);
    await watcher!.waitFor(() => watcher!.textsFrom('hxcli', '#ops').includes('[alerts.cpu] cpu 99%'));

    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
    await watcher!.waitFor(() => watcher!.quits.some((q) => q.nick === 'hxcli' && q.message.includes('hendrix example stopping')), 3_000, 'the QUIT');
  }, 40_000);
});
