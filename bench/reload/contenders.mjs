// bench/reload's contenders: how each server is started, reloaded with new content and stopped.
// Each reload first rewrites the text the page serves ("reload N") in the contender's own copy
// of its source (app module, Caddyfile), then issues the command the contender documents.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getOnce } from './load.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const HENDRIX = join(root, 'bin/hendrix.js');
const PM2 = join(root, 'node_modules/pm2/bin/pm2');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (bound to 0 and read back). */
export const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Rewrites the served text ("reload N") in `file` to `version`. */
const setVersion = (file, version) => writeFileSync(file, readFileSync(file, 'utf8').replace(/reload \d+/, `reload ${version}`));

/** Spawns a child whose output is kept (the last 40 lines) for the error message should it fail. */
function spawnKept(ctx, command, args, env) {
  const child = ctx.track(spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  child.lines = [];
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => {
      child.lines.push(line);
      if (child.lines.length > 40) child.lines.shift();
    });
  }
  return child;
}

/** Runs a command to its end: resolves with its exit code and the last lines of its output. */
function command(ctx, cmd, args, env) {
  const child = spawnKept(ctx, cmd, args, env);
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ code: error.code, out: error.message }));
    child.once('close', (code, signal) => setImmediate(() => resolve({ code: code ?? signal, out: child.lines.join('\n') })));
  });
}

/** Waits until the page on `port` says version 0 (at most 30 s), failing early if `child` exits. */
async function ready(name, port, child) {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}):\n${child.lines.join('\n')}`);
    if ((await getOnce(port)).version === 0) return;
    await sleep(20);
  }
  throw new Error(`${name}: no answer on port ${port} within 30 s${child ? `:\n${child.lines.join('\n')}` : ''}`);
}

/** SIGTERM, then SIGKILL after 10 s; resolves when the child has exited. */
async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * hendrix up on hendrix.yaml; `replace` reloads with --replace; with `hup`, every other reload is a
 * `kill -HUP` instead of the command (no Node CLI to start: what the instance itself takes);
 * `workers` serves from that many worker processes (new app code then replaces them one at a
 * time: a rolling reload, PM2's cluster reload).
 */
function hendrix({ replace, hup = false, workers }) {
  return async (ctx) => {
    const port = await freePort();
    const app = join(ctx.tmp, 'app.mjs');
    copyFileSync(join(here, 'app.mjs'), app);
    // XDG_RUNTIME_DIR: the control socket in our temp folder, private to this run
    const env = { ...process.env, PORT: String(port), RELOAD_APP: app, XDG_RUNTIME_DIR: ctx.tmp };
    const manifest = join(here, 'hendrix.yaml');
    const child = spawnKept(ctx, process.execPath, [HENDRIX, 'up', '-f', manifest, ...(workers ? ['--workers', String(workers)] : [])], env);
    await ready('hendrix', port, child);
    return {
      port,
      pids: [child.pid],
      reload(version) {
        setVersion(app, version);
        if (hup && version % 2 === 1) {
          child.kill('SIGHUP');
          return { via: 'kill -HUP', done: Promise.resolve({ code: 0 }) };
        }
        const args = [HENDRIX, 'reload', ...(replace ? ['--replace'] : []), '-f', manifest];
        // the instance's own time for the reload ("reloaded in 12 ms: web in place 3 ms"),
        // without the CLI's start
        const applied = (out) => {
          const m = /reloaded in ([\d.]+) (ms|s)/.exec(out);
          return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : undefined;
        };
        return { via: `hendrix reload${replace ? ' --replace' : ''}`, done: command(ctx, process.execPath, args, env).then((r) => ({ ...r, appliedMs: applied(r.out) })) };
      },
      stop: () => stopChild(child),
    };
  };
}

/** caddy run on a copy of the Caddyfile, /hub proxied to ws-backend.mjs; caddy reload. */
async function caddy(ctx) {
  const port = await freePort();
  const admin = await freePort();
  const backend = ctx.track(spawn(process.execPath, [join(here, 'ws-backend.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const wsPort = await new Promise((resolve, reject) => {
    readline.createInterface({ input: backend.stdout }).once('line', (line) => resolve(JSON.parse(line).port));
    backend.once('exit', (code) => reject(new Error(`ws-backend.mjs exited (${code})`)));
  });
  const config = join(ctx.tmp, 'Caddyfile');
  copyFileSync(join(here, 'Caddyfile'), config);
  // a private config and data folder: Caddy keeps its autosave and certificates there
  const env = { ...process.env, PORT: String(port), RELOAD_ADMIN_PORT: String(admin), RELOAD_WS_PORT: String(wsPort), XDG_CONFIG_HOME: join(ctx.tmp, 'config'), XDG_DATA_HOME: join(ctx.tmp, 'data'), HOME: ctx.tmp };
  const child = spawnKept(ctx, 'caddy', ['run', '--config', config, '--adapter', 'caddyfile'], env);
  await ready('caddy', port, child);
  return {
    port,
    pids: [child.pid],
    reload(version) {
      setVersion(config, version);
      return { via: 'caddy reload', done: command(ctx, 'caddy', ['reload', '--config', config, '--adapter', 'caddyfile', '--address', `127.0.0.1:${admin}`], env) };
    },
    async stop() {
      await stopChild(child);
      backend.stdin.end();
      await stopChild(backend);
    },
  };
}

/** PM2 cluster mode, 2 workers, a private PM2_HOME; pm2 reload; pm2 kill. */
async function pm2(ctx) {
  const port = await freePort();
  const app = join(ctx.tmp, 'app.mjs');
  // the copy imports ws-hub.mjs (and through it `ws`) from this folder
  writeFileSync(app, readFileSync(join(here, 'pm2-app.mjs'), 'utf8').replace("'./ws-hub.mjs'", `'${pathToFileURL(join(here, 'ws-hub.mjs')).href}'`));
  const env = { ...process.env, PORT: String(port), RELOAD_APP: app, PM2_HOME: join(ctx.tmp, 'pm2') };
  const pm2 = (...args) => command(ctx, process.execPath, [PM2, ...args], env);
  // the daemon outlives `pm2 start`: a Ctrl-C must take it (and its workers) along
  const kill = () => {
    try {
      execFileSync(process.execPath, [PM2, 'kill'], { env, stdio: 'ignore', timeout: 15_000 });
    } catch {}
    try {
      process.kill(Number(readFileSync(join(env.PM2_HOME, 'pm2.pid'), 'utf8')), 'SIGKILL');
    } catch {}
  };
  ctx.onCleanup(kill);
  const started = await pm2('start', join(here, 'ecosystem.config.cjs'));
  if (started.code !== 0) throw new Error(`pm2 start exited with ${started.code}:\n${started.out}`);
  await ready('pm2', port);
  const list = JSON.parse(execFileSync(process.execPath, [PM2, 'jlist'], { env, encoding: 'utf8' }));
  return {
    port,
    pids: list.map((p) => p.pid),
    reload(version) {
      setVersion(app, version);
      return { via: 'pm2 reload', done: pm2('reload', 'reload-bench') };
    },
    async stop() {
      const killed = await pm2('kill');
      if (killed.code !== 0) kill();
    },
  };
}

/** The contenders, in the order of a first round: name → start(ctx). */
export const CONTENDERS = {
  'hendrix': hendrix({ replace: false, hup: true }),
  'hendrix-replace': hendrix({ replace: true }),
  'hendrix-workers': hendrix({ replace: false, workers: 2 }),
  caddy,
  pm2,
};
