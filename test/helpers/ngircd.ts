import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './pebble.js';

/** A pre-defined channel of the test server, created at start with its modes. */
export interface NgircdChannel {
  /** `#locked` */
  name: string;
  /** MODE strings applied at start, e.g. `['+k s3cret']`, `['+i']`, `['+b *!*@*']`. */
  modes?: string[];
}

/** How to configure the test server. */
export interface NgircdOptions {
  /** The server password every client must give (PASS). */
  password?: string;
  /** Channels that exist from the start, with their modes. */
  channels?: NgircdChannel[];
  /** A TLS port too, with this certificate and key (PEM files; copied so `nobody` can read them). */
  tls?: { certFile: string; keyFile: string };
  /** Default 30 (ngircd's own default, 9, is RFC 2812's). */
  maxNickLength?: number;
}

/** A running (or stopped, restartable) ngircd on loopback. */
export interface Ngircd {
  readonly host: '127.0.0.1';
  /** The plain-text port; the same across restart(). */
  readonly port: number;
  /** The TLS port, when `tls` was given. */
  readonly tlsPort: number | undefined;
  /** `127.0.0.1:<port>`, as the irc kind's `server` field takes it. */
  readonly server: string;
  /** The PID of the running server, undefined while stopped. */
  readonly pid: number | undefined;
  /** What ngircd logged so far (its -n console output), for failure messages. */
  output(): string;
  /** Sends `signal` (default SIGKILL: the server vanishes) and waits until the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same ports with the same config. */
  restart(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its files. */
  stop(): Promise<void>;
}

const running = new Set<Ngircd>();

/**
 * Starts Debian's `ngircd` in the foreground (`-n`) on free loopback ports with a config written
 * to a temporary folder: PAM, DNS and ident off, no per-IP connection limit, long nicks. As
 * root, ngircd drops to `nobody` after binding, so the folder and files are world-readable.
 * Resolves once it logs that it is ready; the PID is tracked here (no pid file).
 */
export async function startNgircd(options: NgircdOptions = {}): Promise<Ngircd> {
  const dir = await mkdtemp(join(tmpdir(), 'hendrix-ngircd-'));
  await chmod(dir, 0o755);
  try {
    const port = await freePort();
    const tlsPort = options.tls === undefined ? undefined : await freePort();
    let tls: { certFile: string; keyFile: string } | undefined;
    if (options.tls !== undefined) {
      tls = { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') };
      await copyFile(options.tls.certFile, tls.certFile);
      await copyFile(options.tls.keyFile, tls.keyFile);
      await chmod(tls.certFile, 0o644);
      await chmod(tls.keyFile, 0o644);
    }
    const configFile = join(dir, 'ngircd.conf');
    await writeFile(configFile, configText({ ...options, port, tlsPort, tls }), { mode: 0o644 });
    const server = new NgircdProcess(dir, configFile, port, tlsPort);
    await server.launch();
    running.add(server);
    return server;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Stops every server startNgircd() started and did not stop yet (for afterAll). */
export async function stopAllNgircd(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

function configText(o: NgircdOptions & { port: number; tlsPort: number | undefined; tls: { certFile: string; keyFile: string } | undefined }): string {
  const lines = [
    '[Global]',
    'Name = irc.hendrix.test',
    'Info = hendrix test server',
    'Listen = 127.0.0.1',
    `Ports = ${o.port}`,
    'MotdPhrase = hendrix test server',
    'AdminInfo1 = hendrix tests',
    'AdminInfo2 = loopback',
    'AdminEMail = nobody@hendrix.test',
    ...(o.password === undefined ? [] : [`Password = ${o.password}`]),
    ...(process.getuid?.() === 0 ? ['ServerUID = nobody'] : []),
    '[Limits]',
    'MaxConnectionsIP = 0',
    `MaxNickLength = ${o.maxNickLength ?? 30}`,
    'MaxJoins = 0',
    'PingTimeout = 120',
    'PongTimeout = 20',
    '[Options]',
    'PAM = no',
    'DNS = no',
    'Ident = no',
    'ScrubCTCP = no',
  ];
  if (o.tls !== undefined && o.tlsPort !== undefined) lines.push('[SSL]', `CertFile = ${o.tls.certFile}`, `KeyFile = ${o.tls.keyFile}`, `Ports = ${o.tlsPort}`);
  for (const channel of o.channels ?? []) {
    lines.push('[Channel]', `Name = ${channel.name}`, ...(channel.modes ?? []).map((mode) => `Modes = ${mode}`));
  }
  return `${lines.join('\n')}\n`;
}

/** One ngircd process, restartable on the same ports. */
class NgircdProcess implements Ngircd {
  readonly host = '127.0.0.1' as const;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #output = '';

  constructor(
    private readonly dir: string,
    private readonly configFile: string,
    readonly port: number,
    readonly tlsPort: number | undefined,
  ) {}

  get server(): string {
    return `${this.host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  output(): string {
    return this.#output;
  }

  /** Spawns ngircd and waits for its "ready" line (10 s at most). */
  async launch(): Promise<void> {
    const child = spawn('ngircd', ['-n', '-f', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let spawnError: Error | undefined;
    const from = this.#output.length;
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (error) => {
        spawnError = error;
        resolve();
      });
    });
    const ready = new Promise<void>((resolve) => {
      const onData = (chunk: string): void => {
        this.#output += chunk;
        if (/Server ".*" \(on ".*"\) ready\./.test(this.#output.slice(from))) resolve();
      };
      child.stdout?.setEncoding('utf8').on('data', onData);
      child.stderr?.setEncoding('utf8').on('data', onData);
    });
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      this.#exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref()),
    ]);
    if (outcome === 'ready') return;
    child.kill('SIGKILL');
    await this.#exited;
    this.#child = undefined;
    throw new Error(`ngircd did not start (${spawnError?.message ?? outcome}):\n${this.#output}`);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await this.#exited;
    this.#child = undefined;
  }

  async restart(): Promise<void> {
    await this.kill('SIGKILL');
    await this.launch();
  }

  async stop(): Promise<void> {
    running.delete(this);
    const child = this.#child;
    if (child !== undefined) {
      const late = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await this.kill('SIGTERM');
      clearTimeout(late);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
