/** The help texts of the CLI, one per command. */

const COMMON = `  -f, --file FILE     manifest file (repeatable; later files overlay earlier ones; default hendrix.yaml)
  -e, --env NAME      environment: adds hendrix.<NAME>.yaml and .env.<NAME> (default $HENDRIX_ENV)
      --set PATH=VALUE override a value, e.g. --set services.web.listen=9000 (repeatable)
  -h, --help          show this help`;

/** Help text by command name; `main` for `hendrix --help`. */
export const HELP: Record<string, string> = {
  main: `hendrix — run a graph of network services from one manifest

Usage: hendrix <command> [options]

Commands:
  up [SERVICE...]   start the graph (or SERVICE and its dependencies) in the foreground
  check             validate the manifest without starting anything
  config            print the resolved manifest, or --explain where a value came from
  graph             print the dependency graph and the start order
  schema            print the JSON Schema of the manifest

Options:
${COMMON}
  -v, --version       print the version

Exit codes: 0 ok, 1 failed start, 2 forced quit, 3 failed stop, 64 usage error, 78 manifest error.
Run \`hendrix <command> --help\` for a command's options.`,
  up: `Usage: hendrix up [options] [SERVICE...]

Starts every service (or the named ones and their dependencies) in dependency order, then runs
until SIGINT/SIGTERM, which stops them in reverse order; a second signal forces the stop.

Options:
${COMMON}`,
  check: `Usage: hendrix check [options]

Runs the whole manifest pipeline (load, overlay, variables, validation, graph) without starting
anything. Exits 0 when the manifest is valid, 78 with every problem otherwise.

Options:
${COMMON}
      --format FMT    text (default) or json (file, line, column, path, code, message, hint)`,
  config: `Usage: hendrix config [options] [--explain PATH]

Prints the resolved manifest (defaults applied; values from variables whose names contain
SECRET, TOKEN, PASSWORD or KEY are redacted) as a manifest: saved beside the base manifest, it
checks and runs the same. With --explain PATH, prints every layer that set PATH with
file:line, the winner last ("default" when none did), then the value.

Options:
${COMMON}
      --explain PATH  e.g. services.web.listen
      --format FMT    yaml (default) or json`,
  graph: `Usage: hendrix graph [options]

Prints the dependency graph (edges from dependsOn and references) and the start order.

Options:
${COMMON}
      --format FMT    text (default), mermaid or dot`,
  schema: `Usage: hendrix schema

Prints the JSON Schema of hendrix.yaml (for editors: # yaml-language-server: $schema=...).`,
};
