import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { freePort } from './pebble.js';

/** A `redis-server` the test started on loopback, without persistence. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Kills the server (SIGTERM, then SIGKILL after 2 s); idempotent. */
  stop(): Promise<void>;
  /** Stops it, then starts an empty one on the same port (an outage that loses the data). */
  restart(): Promise<void>;
  /** What the current server printed so far, for failure messages. */
  output(): string;
}

/** How to start the server. */
export interface RedisServerOptions {
  /** The port to listen on; default a free one. */
  readonly port?: number;
}

/** A running child and how to wait for its exit. */
interface Child {
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  output: string;
}

/**
 * Starts `redis-server` (Debian package redis-server) on 127.0.0.1 with `--save ''` and
 * `--appendonly no`; resolves once it accepts connections. The child is killed if the test
 * process exits without stopping it.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  let port = options.port ?? (await freePort());
  let child: Child;
  for (let attempt = 1; ; attempt++) {
    try {
      child = await launch(port);
      break;
    } catch (err) {
      // another process may take a free port between freePort() and redis's bind
      const retry = options.port === undefined && attempt < 3 && String((err as Error).message).includes('in use');
      if (!retry) throw err;
      port = await freePort();
    }
  }
  const current = (): Child => child;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    output: () => current().output,
    stop: () => kill(current()),
    restart: async () => {
      await kill(current());
      child = await launch(port);
    },
  };
}

async function launch(port: number): Promise<Child> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--logfile', '', '--dir', tmpdir()];
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = (): void => void proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  const child: Child = {
    process: proc,
    output: '',
    exited: new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.once('error', (err) => {
        child.output += `\n${err.message}`;
        resolve();
      });
    }).finally(() => process.removeListener('exit', killOnExit)),
  };
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: string): void => {
      child.output += chunk;
      if (child.output.includes('Ready to accept connections')) resolve();
    };
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', onData);
    void child.exited.then(() => reject(new Error(`redis-server on port ${port} exited before it was ready:\n${child.output}`)));
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis-server on port ${port} not ready within 10 s:\n${child.output}`)), 10_000);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (err) {
    await kill(child);
    const message = (err as Error).message;
    throw new Error(message.includes('Address already in use') ? `port ${port} in use: ${message}` : message);
  } finally {
    clearTimeout(timer);
  }
  return child;
}

async function kill(child: Child): Promise<void> {
  const proc = child.process;
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 2_000);
    await child.exited;
    clearTimeout(timer);
  }
  await child.exited;
}
