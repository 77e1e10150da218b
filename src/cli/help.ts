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
  reload            apply the edited manifest to the running graph (--dry-run: show the diff)
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
SIGHUP (or \`hendrix reload\`) applies the edited manifest to the running graph, touching only
what changed; a problem in it changes nothing.

Options:
${COMMON}
      --control PATH  the control socket \`hendrix reload\` reaches this instance through
                      (default: derived from the manifest folder; manifest: control.path)
      --watch         reload when the manifest, a .env file or an app module changes
      --workers N     serve from N worker processes (\`auto\`: one per core): http, tls and
                      attached hubs in every worker on shared sockets, the rest once
                      (manifest: workers; see docs/workers.md)`,
  reload: `Usage: hendrix reload [options] [--replace [SERVICE...]]

Asks the running \`hendrix up\` of this manifest to build the plan of the edited manifest
(same files, --env, --set and environment it started with; .env files read again), and to
apply it: removed services stop, added ones start, changed ones are reloaded in place where
their kind can, otherwise replaced (the new instance takes over the listening socket, the old
one drains). Any failure rolls the whole reload back. Prints the diff and what was done.
Exits 0; 78 when the edited manifest has problems (nothing changed); 1 when a step failed
and the reload was rolled back, or when no instance runs.

Options:
  -f, --file FILE     the manifest the instance runs (locates its control socket)
      --control PATH  the instance's control socket, when it was started with --control
      --dry-run       only print the diff: added, removed, changed (old → new, secrets
                      redacted; in place or replaced), unchanged
      --replace       replace the changed services (or the SERVICEs named, changed or not)
                      with new instances instead of reloading them in place (with
                      workers: replace the workers one at a time, each in a clean heap)
      --format FMT    text (default) or json
  -h, --help          show this help`,
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
