#!/usr/bin/env node
import { hendrixVersion } from '../runtime/package-root.js';
import { HendrixError } from '../errors/hendrix-error.js';
import { createKindRegistry, type KindRegistry } from '../kinds/registry.js';
import { EXIT } from '../errors/codes.js';
import { HELP } from './help.js';
import { reportError, type CliIO } from './io.js';

type Command = (argv: string[], io: CliIO) => Promise<number>;

/**
 * The built-in kinds, composed here at the edge (the core knows none of them); loaded with the
 * command, so that `--version` and `--help` do not pay for the kinds' schemas.
 */
async function builtinRegistry(): Promise<KindRegistry> {
  const { builtinKinds } = await import('../../services/index.js');
  return createKindRegistry(builtinKinds);
}

/** The commands, loaded on demand so `hendrix up` pays only for what it runs. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  up: async () => (await import('./up.js')).upCommand,
  reload: async () => (await import('./reload.js')).reloadCommand,
  check: async () => (await import('./check.js')).checkCommand,
  config: async () => (await import('./config.js')).configCommand,
  graph: async () => (await import('./graph.js')).graphCommand,
  schema: async () => (await import('./schema.js')).schemaCommand,
  status: async () => (await import('./status.js')).statusCommand,
  restart: async () => (await import('./ops.js')).restartCommand,
  stop: async () => (await import('./ops.js')).stopCommand,
  start: async () => (await import('./ops.js')).startCommand,
  dashboard: async () => (await import('./dashboard.js')).dashboardCommand,
};

/** The commands that talk to a running instance instead of planning a manifest. */
const NO_KINDS: ReadonlySet<string> = new Set(['reload', 'status', 'restart', 'stop', 'start', 'dashboard']);

/** Runs the CLI with the given argv (without node and script) and resolves to the exit code. */
async function run(argv: string[], io: Omit<CliIO, 'kinds'>): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.stdout.write(`${HELP.main}\n`);
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    if (name === '--version' || name === '-v') return io.stdout.write(`${hendrixVersion()}\n`), EXIT.ok;
    const load = COMMANDS[name];
    if (!load) {
      const { didYouMean } = await import('../errors/suggest.js');
      throw new HendrixError('HX_ERR_USAGE', {
        message: `unknown command \`${name}\``,
        hint: didYouMean(name, Object.keys(COMMANDS)) || 'run `hendrix --help` for the commands',
      });
    }
    // a client of the control socket (reload, status, ...) plans nothing: it does not pay for the kinds
    const [command, kinds] = await Promise.all([load(), NO_KINDS.has(name) ? createKindRegistry() : builtinRegistry()]);
    return await command(rest, { ...io, kinds });
  } catch (error) {
    return reportError(io, error);
  }
}

const io: Omit<CliIO, 'kinds'> = {
  cwd: process.cwd(),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  onSignal(listener) {
    process.on('SIGINT', listener);
    process.on('SIGTERM', listener);
    return () => {
      process.off('SIGINT', listener);
      process.off('SIGTERM', listener);
    };
  },
  onHangup(listener) {
    process.on('SIGHUP', listener);
    return () => void process.off('SIGHUP', listener);
  },
  script: { path: process.argv[1] ?? '', args: process.argv.slice(2), execArgv: process.execArgv },
};

const code = await run(process.argv.slice(2), io);
// let stdout drain before leaving; exit explicitly so lingering handles cannot keep us alive
process.stdout.write('', () => process.exit(code));
