/**
 * The table of every HX_ERR_* code: a short title, a default hint and the process exit code.
 *
 * Codes are never reused or renamed; docs/errors.md is generated from this table
 * (`npm run docs:errors`) and a test keeps the two in step.
 */
export interface ErrorCodeInfo {
  /** What went wrong, in a few words. */
  readonly title: string;
  /** What the user can do about it, when the error itself does not say more. */
  readonly hint: string;
  /** The exit code of `hendrix` when this error ends the run. */
  readonly exit: 1 | 2 | 3 | 4 | 5 | 64 | 78;
}

/** Exit codes of the CLI, as in DESIGN.md section 5. */
export const EXIT = {
  ok: 0,
  startFailed: 1,
  forced: 2,
  stopFailed: 3,
  /** A service failed while running (restart limit reached) and `onFailed: stop` stopped the graph. */
  serviceFailed: 4,
  /**
   * An uncaught exception (in an app's timer, an event listener, a callback): the graph was
   * stopped gracefully, since Node cannot safely go on after one; a supervisor restarts it.
   */
  uncaughtException: 5,
  usage: 64,
  config: 78,
} as const;

/** Every error code Hendrix can raise. */
export const ERROR_CODES = {
  // --- manifest: files and YAML (78) ---
  HX_ERR_MANIFEST: { title: 'the manifest has problems', hint: 'fix each problem listed', exit: 78 },
  HX_ERR_MANIFEST_NOT_FOUND: { title: 'manifest file not found', hint: 'run in the folder of your hendrix.yaml or pass -f FILE', exit: 78 },
  HX_ERR_MANIFEST_READ: { title: 'manifest file cannot be read', hint: 'check the file permissions', exit: 78 },
  HX_ERR_OVERLAY_NOT_FOUND: { title: 'environment overlay not found', hint: 'create hendrix.<env>.yaml beside the manifest, or pick another --env', exit: 78 },
  HX_ERR_YAML_SYNTAX: { title: 'YAML syntax error', hint: 'check indentation, quotes and colons near the marked spot', exit: 78 },
  HX_ERR_YAML_DUPLICATE_KEY: { title: 'duplicate key', hint: 'a key may appear once per mapping; remove or rename one of them', exit: 78 },
  HX_ERR_NOT_A_MAP: { title: 'expected a mapping', hint: 'the manifest and each service must be YAML mappings (key: value)', exit: 78 },
  HX_ERR_VERSION: { title: 'unsupported manifest version', hint: 'set `version: 1`', exit: 78 },
  // --- manifest: variables (78) ---
  HX_ERR_VAR_UNSET: { title: 'variable is not set', hint: 'set it in the environment or .env, or give a default: ${VAR:-default}', exit: 78 },
  HX_ERR_VAR_REQUIRED: { title: 'required variable is not set', hint: 'set the variable in the environment or in .env beside the manifest', exit: 78 },
  HX_ERR_VAR_SYNTAX: { title: 'malformed variable reference', hint: 'use ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, or $$ for a literal $', exit: 78 },
  HX_ERR_ENV_FILE: { title: '.env file cannot be read', hint: 'check the .env file beside the manifest', exit: 78 },
  // --- manifest: schema (78) ---
  HX_ERR_UNKNOWN_KEY: { title: 'unknown key', hint: 'remove it or fix its spelling', exit: 78 },
  HX_ERR_INVALID_TYPE: { title: 'wrong type', hint: 'see the manifest reference in README.md for this field', exit: 78 },
  HX_ERR_INVALID_VALUE: { title: 'invalid value', hint: 'see the manifest reference in README.md for this field', exit: 78 },
  HX_ERR_MISSING_KEY: { title: 'required key is missing', hint: 'add the key', exit: 78 },
  HX_ERR_UNKNOWN_KIND: { title: 'unknown service kind', hint: 'use a built-in kind, a relative path to a kind module (./kind.mjs) or a package name', exit: 78 },
  HX_ERR_KIND_LOAD: { title: 'custom kind cannot be loaded', hint: 'the module must export defineServiceKind(...) as default or as `kind`', exit: 78 },
  HX_ERR_UNKNOWN_REFERENCE: { title: 'reference to an unknown service', hint: 'name a service declared under `services:`', exit: 78 },
  HX_ERR_CYCLE: { title: 'dependency cycle', hint: 'break the cycle by removing one of the listed edges', exit: 78 },
  // --- usage (64) ---
  HX_ERR_USAGE: { title: 'usage error', hint: 'run `hendrix --help`', exit: 64 },
  HX_ERR_SET_SYNTAX: { title: 'malformed --set', hint: 'write --set services.web.listen=8080', exit: 64 },
  HX_ERR_UNKNOWN_SERVICE: { title: 'no such service', hint: 'name a service declared in the manifest', exit: 64 },
  HX_ERR_EXPLAIN_PATH: { title: 'no value at that path', hint: 'give a dotted manifest path such as services.web.listen', exit: 64 },
  // --- runtime: start (1) ---
  HX_ERR_START_FAILED: { title: 'the graph failed to start', hint: 'see the errors listed; services that had started were stopped', exit: 1 },
  HX_ERR_START_TIMEOUT: { title: 'service did not become ready in time', hint: 'raise `startTimeout` for the service, or find what it waits for', exit: 1 },
  HX_ERR_SERVICE_START: { title: 'service failed to start', hint: "the service's own error is quoted in the message; its log lines have the details", exit: 1 },
  HX_ERR_DEPENDENCY_FAILED: { title: 'not started: a dependency failed', hint: 'fix the dependency first', exit: 1 },
  HX_ERR_SERVICE_CRASHED: { title: 'service crashed', hint: 'see the cause; the restart policy decides what happens next', exit: 1 },
  HX_ERR_RESTART_LIMIT: { title: 'service failed: restart limit reached', hint: 'fix the cause, or widen `restart.limit`', exit: 1 },
  HX_ERR_PEER: { title: 'peer not available', hint: 'a service may reach only the services it depends on (dependsOn or a reference)', exit: 1 },
  HX_ERR_LISTEN: { title: 'cannot listen on the address', hint: 'the port may be in use (EADDRINUSE) or need privileges (EACCES); pick another', exit: 1 },
  HX_ERR_INTERNAL: { title: 'internal error', hint: 'this is a bug in hendrix; please report it with the log', exit: 1 },
  // --- runtime: faults of app code outside any handler (README: "When app code fails") ---
  HX_ERR_UNHANDLED_REJECTION: { title: 'unhandled promise rejection', hint: 'await the promise or add a .catch(); when it was traced to a service, that service crashed and its restart policy applied, the others kept running', exit: 1 },
  HX_ERR_UNCAUGHT_EXCEPTION: { title: 'uncaught exception: the graph was stopped', hint: 'catch the error where it is thrown (a timer, an event listener, a callback); Node cannot safely go on after one, so every service was drained and the process exits 5 for its supervisor to restart it', exit: 5 },
  // --- runtime: stop (3, 2) ---
  HX_ERR_STOP_FAILED: { title: 'the graph did not stop cleanly', hint: 'see the errors listed', exit: 3 },
  HX_ERR_STOP_TIMEOUT: { title: 'service did not stop in time and was forced', hint: 'raise `stopTimeout`, or find what keeps it busy', exit: 3 },
  HX_ERR_SERVICE_STOP: { title: 'service failed to stop', hint: "the service's own error is quoted in the message; the other services were still stopped", exit: 3 },
  HX_ERR_FORCED: { title: 'forced quit', hint: 'a second signal forces the stop at once', exit: 2 },
  // --- crosstown ---
  HX_ERR_CROSSTOWN_QUEUE_FULL: { title: 'crosstown queue is full: task dropped', hint: 'raise `crosstown.maxQueue`, add threads or processes, or make the tasks cheaper; the response was not affected', exit: 1 },
  HX_ERR_CROSSTOWN_TASK_FAILED: { title: 'crosstown task failed', hint: "the task's own error is the cause; the client was not affected", exit: 1 },
  HX_ERR_CROSSTOWN_TASK_TIMEOUT: { title: 'crosstown task timed out', hint: 'raise `crosstown.taskTimeout` (or the call\'s `timeout`), or make the task faster; its worker was stopped', exit: 1 },
  HX_ERR_CROSSTOWN_BAD_TASK: { title: 'crosstown task cannot be run as written', hint: "write 'module#export' with a path relative to the calling module (or the manifest), an export that is a function, and JSON data when the journal is on", exit: 1 },
  HX_ERR_CROSSTOWN_DRAIN_LEFT: { title: 'crosstown tasks left undone at stop', hint: 'raise `crosstown.drainTimeout`, or turn on `crosstown.journal` so the next start replays them', exit: 3 },
  HX_ERR_CROSSTOWN_NO_SERVICE: { title: 'crosstown called outside an http service', hint: 'loop tasks run at once; thread and process tasks use a default runtime (cores-sized pools, no journal, no drain at exit)', exit: 1 },
  HX_ERR_CROSSTOWN_CLOSED: { title: 'crosstown is stopped', hint: 'the service stopped (or is stopping past its drain); schedule work while it runs', exit: 1 },
  HX_ERR_REFERENCE_KIND: { title: 'reference to a service of the wrong kind', hint: 'name a service of the kind the field expects', exit: 78 },
  HX_ERR_PROVISION: { title: 'service cannot be provisioned', hint: 'fix the problem named in the message; nothing was started', exit: 78 },
  HX_ERR_LISTEN_CONFLICT: { title: 'two services listen on the same address', hint: 'give each service its own port (or unix socket path)', exit: 78 },
  HX_ERR_LISTEN_PRIVILEGED: { title: 'port below 1024 needs a privilege this process lacks', hint: 'listen on a port from 1024 up, run as root, or give node CAP_NET_BIND_SERVICE: sudo setcap cap_net_bind_service+ep "$(readlink -f "$(command -v node)")"', exit: 78 },
  // --- reload (an edited manifest applied to the running graph) ---
  HX_ERR_RELOAD_FAILED: { title: 'reload failed and was rolled back', hint: 'see the errors listed; every step of this reload was undone and the previous graph keeps serving', exit: 1 },
  HX_ERR_RELOAD_REFUSED: { title: 'reload refused: the graph is not running', hint: 'a reload applies to a running graph; wait until `hendrix up` says ready (or start it again if it is stopping)', exit: 1 },
  HX_ERR_RELOAD_TIMEOUT: { title: 'service did not apply the change in time', hint: 'raise `startTimeout` for the service (it bounds an in-place reload and a rebind too), or find what it waits for', exit: 1 },
  HX_ERR_SERVICE_RELOAD: { title: 'service failed to apply the change in place', hint: "the service's own error is quoted in the message; it keeps running with its previous config", exit: 1 },
  // --- control socket (hendrix reload, status, the admin API) ---
  HX_ERR_CONTROL_IN_USE: { title: 'another hendrix runs for this manifest', hint: 'stop the other instance first (`hendrix stop`, or its pid), or give this one another control socket with `--control PATH`', exit: 1 },
  HX_ERR_CONTROL_NOT_RUNNING: { title: 'no hendrix runs for this manifest', hint: 'start it with `hendrix up` in the folder of the manifest, or pass `--control PATH` if it listens on another control socket', exit: 1 },
  HX_ERR_CONTROL_PATH: { title: 'bad or unsafe control socket path', hint: 'use a path of at most 107 bytes in a folder that only you can write to (mode 0700), or pass another `--control PATH`', exit: 78 },
  HX_ERR_CONTROL_REQUEST: { title: 'control request failed', hint: 'see the message; the running instance may be another version of hendrix than this command', exit: 1 },
  // --- the admin API (status, metrics, events, operations; docs/admin-api.md) ---
  HX_ERR_SERVICE_OP: { title: 'operation on a service refused or failed', hint: 'a service can be stopped, started or restarted while the graph runs (not while it starts, reloads or stops); the message says what happened to it', exit: 1 },
  HX_ERR_ADMIN_TOKEN: { title: 'the TCP admin listener has no token', hint: 'set `admin.token` (at least 16 characters, e.g. `token: ${ADMIN_TOKEN}` with the value in the environment), or drop `admin.listen` and use the control socket', exit: 78 },
  HX_ERR_ADMIN_AUTH: { title: 'admin request without the right token', hint: 'send `Authorization: Bearer <admin.token>` (the dashboard asks for it once)', exit: 1 },
  HX_ERR_ADMIN_LISTEN: { title: 'the TCP admin listener cannot listen', hint: 'choose a free address for `admin.listen` (`127.0.0.1:2019`), or drop it and use the control socket', exit: 78 },
  HX_ERR_DASHBOARD_LISTEN: { title: 'hendrix dashboard cannot listen', hint: 'pick another `--port` (or leave it out for any free port), or a `--host` that is an address of this machine', exit: 1 },
  HX_ERR_NOTIFY: { title: 'cannot notify the service manager', hint: 'NOTIFY_SOCKET names a socket hendrix cannot send to; check the unit (Type=notify, NotifyAccess=main or all) — the graph runs on regardless', exit: 1 },
  // --- workers (a graph served by several processes) ---
  HX_ERR_WORKERS_GRAPH: { title: 'services that run once and services that run in every worker depend on each other both ways', hint: 'with workers the graph starts in two stages (the once-services before or after the workers); drop one of the edges named, or run with `workers: 1`', exit: 78 },
  HX_ERR_WORKER_EXIT: { title: 'a worker process ended', hint: 'the lines logged with its worker number say why; it is replaced under the restart policy of its services (`restart`), and the graph stops when that policy gives up (`onFailed`)', exit: 4 },
  HX_ERR_WORKER_PEER: { title: 'the handle of a service in another process', hint: 'with workers, a service reaches the handle of a dependency that runs in other processes only when its kind provides a stand-in (the pubsub hub does); otherwise the edge orders the start only', exit: 1 },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code of the core table. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** A table of error codes, as the core and each kind declare theirs. */
export type ErrorCodeTable = Readonly<Record<`HX_ERR_${string}`, ErrorCodeInfo>>;

const registered = new Map<string, ErrorCodeInfo>(Object.entries(ERROR_CODES));

/**
 * Declares error codes (a kind's own, given to `defineServiceKind({ errors })`), so that a
 * HendrixError with one of them gets its hint and exit code. Declaring a code again with the
 * same text is harmless; a code that would mean something else is refused: codes are stable.
 */
export function defineErrorCodes<const T extends ErrorCodeTable>(table: T): T {
  for (const [code, info] of Object.entries(table) as [string, ErrorCodeInfo][]) {
    if (!/^HX_ERR_[A-Z0-9_]+$/.test(code)) throw new TypeError(`error code ${code} must look like HX_ERR_NAME`);
    const known = registered.get(code);
    if (known && (known.title !== info.title || known.hint !== info.hint || known.exit !== info.exit)) {
      throw new TypeError(`error code ${code} is already declared with another meaning`);
    }
    registered.set(code, Object.freeze({ ...info }));
  }
  return Object.freeze(table);
}

/** The title, hint and exit code of a code: the core's, or one a kind declared. */
export function errorCodeInfo(code: string): ErrorCodeInfo | undefined {
  return registered.get(code);
}
