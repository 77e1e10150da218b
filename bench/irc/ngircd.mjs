// Starts Debian's ngircd for bench/irc the way test/helpers/ngircd.ts does for the tests: a
// config in a temporary folder (PAM off, readable by `nobody`, which ngircd drops to as root),
// a free loopback port, -n (foreground), the PID tracked here.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';

/** A loopback port nothing listens on right now. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts ngircd; resolves with { port, pid, version, stop() } once it says it is ready. */
export async function startNgircd() {
  const dir = mkdtempSync(join(os.tmpdir(), 'hendrix-bench-ngircd-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const config = join(dir, 'ngircd.conf');
  writeFileSync(
    config,
    [
      '[Global]',
      'Name = irc.bench.test',
      'Info = hendrix bench server',
      'Listen = 127.0.0.1',
      `Ports = ${port}`,
      'MotdPhrase = bench',
      ...(process.getuid?.() === 0 ? ['ServerUID = nobody'] : []),
      '[Limits]',
      'MaxConnectionsIP = 0',
      'MaxNickLength = 30',
      'MaxJoins = 0',
      '[Options]',
      'PAM = no',
      'DNS = no',
      'Ident = no',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const child = spawn('ngircd', ['-n', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ngircd did not start:\n${output}`)), 10_000);
    const onData = (chunk) => {
      output += chunk;
      if (/Server ".*" \(on ".*"\) ready\./.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    child.once('error', (error) => reject(error));
    child.once('exit', () => reject(new Error(`ngircd exited:\n${output}`)));
  });
  const version = /ngIRCd (\d[\d.]*)/.exec(output)?.[1] ?? '?';
  return {
    port,
    pid: child.pid,
    version,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
    kill() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
