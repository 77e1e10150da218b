/** The help texts of the CLI, one per command. */

const COMMON = `  -f, --file FILE     manifest file (repeatable; later files overlay earlier ones; default hendrix.yaml)
  -e, --env NAME      environment: adds hendrix.<NAME>.yaml and .env.<NAME> (default $HENDRIX_ENV)
      --set PATH=VALUE override a value, e.g. --set services.web.listen=9000 (repeatable)
  -h, --help          show this help`;

/** The options of the commands that talk to a running instance through its control socket. */
const CLIENT = `  -f, --file FILE     the manifest the instance runs (locates its control socket)
      --control PATH  the instance's control socket, when it was started with --control`;

/** Help text by command name; `main` for `hendrix --help`. */
export const HELP: Record<string, string> = {
  main: `hendrix — run a graph of network services from one manifest

Usage: hendrix <command> [options]

Commands:
  up [SERVICE...]   start the graph (or SERVICE and its dependencies) in the foreground
  reload            apply the edited manifest to the running graph (--dry-run: show the diff)
  status            show the running graph: every service's state, since, restarts, why
  restart SERVICE   restart one service of the running graph (its dependents follow)
  stop [SERVICE]    stop the running graph (as SIGTERM does), or one service of it
  start SERVICE     start a service stopped by \`hendrix stop SERVICE\` (or failed for good)
  dashboard         serve the live dashboard of the running graph on a local URL
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
  status: `Usage: hendrix status [options]

Shows the running \`hendrix up\` of this manifest, through its control socket: a line for the
instance (version, pid, uptime, state, plan fingerprint, workers), then every service in start
order — NAME, KIND, STATE, SINCE (12s, 3m, 2h), RESTARTS, ADDRESS and WHY (what a start waits
for, when the next restart is due, the last error with its code and manifest place). With
workers, a table of the worker processes (pid, state, memory, requests, restarts).
Exits 0; 1 when no instance runs for this manifest.

Options:
${CLIENT}
      --json          print the status as JSON (docs/admin-api.md), as the instance sent it
  -w, --watch         redraw on every change (from the instance's events) and every second on
                      a terminal, until ^C (exit 0) or until the instance stops; with --json,
                      one line of JSON per change
  -h, --help          show this help`,
  restart: `Usage: hendrix restart [options] SERVICE

Restarts one service of the running graph: its dependents stop first, a new instance of it
starts, then they start again. Prints \`web restarted (ready in 34 ms)\`, or the error the
instance reported, with its exit code.

Options:
${CLIENT}
  -h, --help          show this help`,
  stop: `Usage: hendrix stop [options] [SERVICE]

Without SERVICE: stops the running graph as SIGTERM does (readiness off, drainDelay, then the
services in reverse order), and waits until the instance has exited; prints \`stopped\`.
With SERVICE: stops that service (its dependents first); it stays stopped — through reloads
too — until \`hendrix start SERVICE\`.

Options:
${CLIENT}
      --timeout DUR   how long to wait for the instance to exit (default 60s; a bare number
                      is seconds); exits 1 when it is still stopping then
  -h, --help          show this help`,
  start: `Usage: hendrix start [options] SERVICE

Starts a service stopped by \`hendrix stop SERVICE\`, or failed for good (restart limit), then
the dependents waiting for it. Prints \`web started (ready in 12 ms)\`, or the error of its
start.

Options:
${CLIENT}
  -h, --help          show this help`,
  dashboard: `Usage: hendrix dashboard [options]

Serves the dashboard of the running graph — the services drawn as a graph coloured by state,
live; their figures; restart and reload buttons — on a local HTTP port, forwarded to the
instance's control socket. Opens no browser: it prints the URL to open, which carries a
random token (opened once, it sets a session cookie; other clients send
\`Authorization: Bearer <token>\`). Runs until ^C, or until the instance stops (exit 0).

Options:
${CLIENT}
  -p, --port N        the port (default 0: any free one)
      --host HOST     the address to listen on (default 127.0.0.1; anything else is reachable
                      from other machines, and whoever has the URL controls the graph)
  -h, --help          show this help`,
  schema: `Usage: hendrix schema

Prints the JSON Schema of hendrix.yaml (for editors: # yaml-language-server: $schema=...).`,
};
