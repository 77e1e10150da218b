import { describe, expect, it } from 'vitest';
import { isHendrixError, type HendrixError } from '../../src/errors/hendrix-error.js';
import { up } from '../../src/index.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { freePort } from '../../test/helpers/pebble.js';

const project = useManifestDirs();

describe('an irc bot whose server is not there', () => {
  it('says what it waits for, and its start timeout reports it instead of only blaming startTimeout', async () => {
    const port = await freePort();
    const dir = project({
      'hendrix.yaml': [
        'version: 1',
        'services:',
        '  bot:',
        '    kind: irc',
        `    server: 127.0.0.1:${port}`,
        '    tls: false',
        '    nick: waiter',
        "    channels: ['#ops']",
        '    startTimeout: 1s',
        '    reconnect: { initial: 100ms, max: 200ms }',
      ].join('\n'),
    });
    const error = await up('hendrix.yaml', {
      cwd: dir,
      environment: {},
      logger: createSilentLogger(),
    })
      .then(async (app) => {
        await app.stop();
        throw new Error('the bot started without a server');
      })
      .catch((e: unknown) => e);
    expect(isHendrixError(error)).toBe(true);
    const [timeout] = (error as HendrixError).errors;
    expect(timeout?.code).toBe('HX_ERR_START_TIMEOUT');
    expect(timeout?.message).toMatch(new RegExp(`^bot \\(irc\\) did not become ready within 1(?:\\.00)? s: still (connecting to|retrying) 127\\.0\\.0\\.1:${port}`));
    expect(timeout?.message).toMatch(/ECONNREFUSED/);
    expect(timeout?.hint).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}`));
  });
});
