import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { up, type Hendrix } from '../../src/index.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { Observer } from '../../test/helpers/irc/test-harness.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../../test/helpers/ngircd.js';
import { needCommand } from '../../test/helpers/system-command.js';
import type { IrcHandle } from './service.js';

const project = useManifestDirs();

/** The manifest: a web app, its hub, and a bot relaying hub alerts to `channels`. */
function manifest(server: string, channels: string[]): string {
  return [
    'version: 1',
    'services:',
    '  web:',
    '    kind: http',
    '    listen: 127.0.0.1:0',
    '  hub:',
    '    kind: pubsub',
    '    attach: web',
    '    path: /hub',
    '  bot:',
    '    kind: irc',
    `    server: ${server}`,
    '    nick: upbot',
    `    channels: [${channels.map((c) => `'${c}'`).join(', ')}]`,
    '    commands: ./cmds.mjs',
    "    relay: [{ from: 'hub:alerts', to: '#up' }]",
    '    flood: { interval: 0 }',
  ].join('\n');
}

describe.runIf(needCommand('ngircd'))('hendrix reload of a graph with a bot', () => {
  let server: Ngircd;
  let app: Hendrix | undefined;
  let watcher: Observer | undefined;

  beforeAll(async () => {
    server = await startNgircd();
    watcher = await Observer.connect(server.port, 'upwatch', ['#up', '#up2']);
  });
  afterAll(async () => {
    await app?.stop();
    await watcher?.close();
    await stopAllNgircd();
  });

  it('reloads the bot in place when its channels and commands file change, and rebinds it to a replaced hub', async () => {
    const w = watcher as Observer;
    const dir = project({ 'hendrix.yaml': manifest(server.server, ['#up']), 'cmds.mjs': "export const ping = () => 'pong 1';\n" });
    app = await up('hendrix.yaml', { cwd: dir, environment: {}, logger: createSilentLogger() });
    await w.until(() => w.channelsOf('join', 'upbot').includes('#up'), 'the bot in #up');
    const signon = await w.signon('upbot');

    writeFileSync(join(dir, 'hendrix.yaml'), manifest(server.server, ['#up', '#up2']));
    writeFileSync(join(dir, 'cmds.mjs'), "export const ping = () => 'pong 2';\n");
    const result = await app.reload();
    expect(result.diff.changed.map((c) => [c.name, c.mode])).toEqual([['bot', 'in-place']]);
    expect(result.report?.steps.map((s) => [s.service, s.action])).toEqual([['bot', 'reload']]);
    await w.until(() => w.channelsOf('join', 'upbot').includes('#up2'), 'the bot in #up2');
    w.say('#up', '!ping');
    await w.waitFor(() => w.textsFrom('upbot', '#up').includes('pong 2'));

    // the hub replaced: the bot is rebound to the new instance, not replaced
    const replaced = await app.reload({ replace: ['hub'] });
    const steps = replaced.report?.steps.map((s) => `${s.service} ${s.action}`) ?? [];
    expect(steps.sort()).toEqual(['bot rebind', 'hub replace']);
    const web = app.addresses()['web'] as string;
    const res = await fetch(`${web}/hub/publish/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify('from the new hub') });
    expect(res.status).toBe(202);
    await w.waitFor(() => w.textsFrom('upbot', '#up').includes('from the new hub'));

    // one connection all along
    expect(w.quits).toEqual([]);
    expect(w.channelsOf('join', 'upbot')).toEqual(['#up', '#up2']);
    expect(await w.signon('upbot')).toBe(signon);
    expect(app.handle<IrcHandle>('bot').stats().reconnects).toBe(0);
  });
});
