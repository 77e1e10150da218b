import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { startFailure } from '../../test/helpers/start-failure.js';
import { needCommand } from '../../test/helpers/system-command.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../../test/helpers/ngircd.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { Observer, createBot, startBot, stopBots } from '../../test/helpers/irc/test-harness.js';

const dir = useCertDir();

describe.runIf(needCommand('ngircd') && needCommand('openssl'))('TLS to the server, with a private CA', () => {
  let ca: TestCert;
  let server: Ngircd;

  beforeAll(async () => {
    ca = await createTestCa(dir, 'Hendrix IRC Test CA');
    const leaf = await createLeaf(dir, ca, { hosts: ['irc.hendrix.test', '127.0.0.1'], name: 'ircd' });
    server = await startNgircd({ tls: { certFile: leaf.certFile, keyFile: leaf.keyFile } });
  }, 30_000);
  afterEach(stopBots);
  afterAll(stopAllNgircd);

  async function startError(partial: Record<string, unknown>): Promise<HendrixError> {
    const { bot } = createBot(partial, { baseDir: dir });
    return startFailure(bot);
  }

  it('connects over TLS trusting the CA given in tls.ca (irc-framework alone has no ca option)', async () => {
    const watcher = await Observer.connect(server.port, 'tlswatch', ['#secure']);
    try {
      const { bot } = await startBot({ server: `127.0.0.1:${server.tlsPort}`, nick: 'tlsbot', channels: ['#secure'], tls: { ca: ca.certFile } }, { baseDir: dir });
      expect(bot.address()).toBe(`ircs://127.0.0.1:${server.tlsPort}`);
      bot.handle().say('#secure', 'over tls');
      await watcher.waitFor(() => watcher.textsFrom('tlsbot', '#secure').includes('over tls'));
      // the server name the certificate is checked against may differ from the host dialled
      const { bot: named } = await startBot(
        { server: `127.0.0.1:${server.tlsPort}`, nick: 'tlsnamed', tls: { ca: ca.certFile, servername: 'irc.hendrix.test' } },
        { baseDir: dir, name: 'named' },
      );
      expect(named.handle().connected).toBe(true);
    } finally {
      await watcher.close();
    }
  });

  it('refuses a server whose certificate does not chain to a trusted CA, at once and at tls', async () => {
    const started = performance.now();
    const error = await startError({ server: `127.0.0.1:${server.tlsPort}`, nick: 'tlsbot', tls: true });
    expect(performance.now() - started).toBeLessThan(3_000); // no retrying: it will not get better
    expect(error).toMatchObject({ code: 'HX_ERR_IRC_TLS', path: ['services', 'bot', 'tls'] });
    expect(error.message).toMatch(new RegExp(`^TLS handshake with 127\\.0\\.0\\.1:${server.tlsPort} failed: .*(self-signed|issuer|verify)`, 'i'));
  });

  it('refuses a certificate for another name', async () => {
    const error = await startError({ server: `127.0.0.1:${server.tlsPort}`, nick: 'tlsbot', tls: { ca: ca.certFile, servername: 'irc.example.net' } });
    expect(error.code).toBe('HX_ERR_IRC_TLS');
    expect(error.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|altnames/);
  });

  it('says so when the port speaks plain text', async () => {
    const started = performance.now();
    const error = await startError({ server: server.server, nick: 'tlsbot', tls: { ca: ca.certFile, handshakeTimeout: '300ms' } });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error).toMatchObject({ code: 'HX_ERR_IRC_TLS', path: ['services', 'bot', 'tls'] });
    expect(error.message).toBe(`TLS handshake with ${server.server} failed: ERR_TLS_HANDSHAKE_TIMEOUT (no TLS handshake within 300 ms: is the port a TLS port?)`);
  });

  it('connects with verify: false to a server it cannot check (a test server)', async () => {
    const { bot } = await startBot({ server: `127.0.0.1:${server.tlsPort}`, nick: 'tlsloose', tls: { verify: false } }, { baseDir: dir });
    expect(bot.handle().connected).toBe(true);
  });
});
