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
  readonly exit: 1 | 2 | 3 | 64 | 78;
}

/** Exit codes of the CLI, as in DESIGN.md section 5. */
export const EXIT = {
  ok: 0,
  startFailed: 1,
  forced: 2,
  stopFailed: 3,
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
  HX_ERR_APP_LOAD: { title: 'app module cannot be loaded', hint: 'check the `app` path (relative to the manifest) and the module itself', exit: 1 },
  HX_ERR_APP_SHAPE: { title: 'app export has an unknown shape', hint: 'export a (req, res) listener, an object with fetch(request), or a factory (ctx) => one of them', exit: 1 },
  HX_ERR_INTERNAL: { title: 'internal error', hint: 'this is a bug in hendrix; please report it with the log', exit: 1 },
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
  // --- tls (1 at start; warnings and reload errors are logged with their code) ---
  HX_ERR_TLS_FILE: { title: 'TLS file cannot be read', hint: 'check the path (relative to the manifest) and that the user running hendrix may read it', exit: 1 },
  HX_ERR_TLS_PEM: { title: 'TLS file is not a valid PEM certificate or key', hint: 'give PEM files (-----BEGIN CERTIFICATE----- / -----BEGIN PRIVATE KEY-----); convert DER or PKCS#12 with openssl', exit: 1 },
  HX_ERR_TLS_KEY_MISMATCH: { title: 'private key does not match the certificate', hint: 'pair each certificate with the key it was issued for (compare `openssl x509 -noout -pubkey` and `openssl pkey -pubout`)', exit: 1 },
  HX_ERR_TLS_CERT_EXPIRED: { title: 'certificate has expired or is not yet valid', hint: 'renew the certificate; clients will refuse it (this is a warning: the listener still starts)', exit: 1 },
  HX_ERR_TLS_RELOAD: { title: 'new certificate rejected: the old one stays in use', hint: 'fix the files named in the message; they are read again on their next change', exit: 1 },
  HX_ERR_TLS_SERVES: { title: '`serves` does not name an http service', hint: 'a tls listener serves the app of an `http` service: serves: <name of a kind: http service>', exit: 1 },
  HX_ERR_TLS_SELF_SIGNED: { title: 'development certificate cannot be created or stored', hint: 'make `stateDir` (default .hendrix/tls beside the manifest) writable', exit: 1 },
  HX_ERR_TLS_ACME: { title: 'ACME certificate could not be obtained or renewed', hint: 'check `acme.directory`, that the hosts resolve to this machine and that port 80 (the http-01 challenge) reaches the redirect listener or the served http service', exit: 1 },
  // --- pubsub ---
  HX_ERR_PUBSUB_ATTACH: { title: '`attach` does not name an http service', hint: 'a hub attaches to a service of kind http (or listens on its own with `listen`)', exit: 1 },
  HX_ERR_PUBSUB_SCHEMA: { title: 'topic schema cannot be used', hint: 'give a readable JSON file holding a valid JSON Schema, relative to the manifest', exit: 1 },
  HX_ERR_PUBSUB_AUTH_KEY: { title: 'JWT public key cannot be read', hint: 'give a PEM public key file, relative to the manifest', exit: 1 },
  HX_ERR_PUBSUB_BACKPLANE: { title: 'cannot connect to the backplane', hint: 'check that Redis runs at the `backplane` URL and accepts connections from here', exit: 1 },
  HX_ERR_PUBSUB_REJECTED: { title: 'message refused by the hub', hint: 'publish on a topic without wildcards, with data that satisfies the topic schema', exit: 1 },
  // --- irc ---
  HX_ERR_IRC_CONNECT: { title: 'cannot reach the IRC server', hint: 'check `server` (host:port) and that the server is up; start retries until startTimeout, and once ready the bot reconnects by itself (see `reconnect`)', exit: 1 },
  HX_ERR_IRC_REGISTER: { title: 'the IRC server refused to register the bot', hint: "check `password`, `sasl` and `nick` against the server's rules; its own reason is quoted in the message", exit: 1 },
  HX_ERR_IRC_JOIN: { title: 'an IRC channel refused the bot', hint: 'check the channel key (channels: [{ name, key }]), bans (+b), invite-only (+i) and the channel limit (+l)', exit: 1 },
  HX_ERR_IRC_COMMANDS: { title: 'IRC commands module cannot be loaded or has the wrong shape', hint: 'export one function per command, named after it (export function ping(message, reply, ctx) {...}), or a default object of them', exit: 1 },
  HX_ERR_IRC_COMMAND_FAILED: { title: 'IRC command handler failed', hint: "the handler's own error is the cause; the bot keeps running and told the sender the command failed", exit: 1 },
  HX_ERR_IRC_RELAY: { title: 'relay entry cannot be used', hint: 'write from/to as `<pubsub service>:<topic>` or a channel (#name) listed in `channels`; the service named must be of kind pubsub', exit: 1 },
  HX_ERR_IRC_RELAY_PUBLISH: { title: 'IRC line could not be published to the hub', hint: "the hub's own error (topic rules, the topic's schema) is the cause; the line was dropped, the bot keeps running", exit: 1 },
  HX_ERR_IRC_QUEUE_FULL: { title: 'IRC outgoing queue is full: lines dropped', hint: 'raise `flood.maxQueue` or the rate (`flood.burst`, `flood.interval`), or send less; the bot keeps running', exit: 1 },
  HX_ERR_IRC_TLS: { title: 'TLS to the IRC server failed', hint: 'check `tls.ca` (a PEM file, relative to the manifest) for a private CA, and that the server certificate names the host of `server` (or set `tls.servername`)', exit: 1 },
  // --- raw ---
  HX_ERR_RAW_ADDON: { title: 'raw frame addon is not built or cannot be loaded', hint: 'install python3, make and a C compiler (apt-get install -y python3 make g++), then run `npm rebuild hendrix` (npm 11 runs it only once the project allows it: `npm install-scripts approve hendrix`; in a hendrix checkout: `npm run build:addon`)', exit: 1 },
  HX_ERR_RAW_PERMISSION: { title: 'no permission to open a raw socket', hint: 'raw frames need CAP_NET_RAW: run hendrix as root, or give node the capability once: sudo setcap cap_net_raw+ep "$(readlink -f "$(command -v node)")"', exit: 1 },
  HX_ERR_RAW_NO_INTERFACE: { title: 'network interface does not exist', hint: 'name one of the interfaces the message lists (`ip link` shows them)', exit: 1 },
  HX_ERR_RAW_INTERFACE_DOWN: { title: 'network interface is down', hint: 'bring it up (ip link set NAME up) and start again; while running, frames are dropped until it is back up', exit: 1 },
  HX_ERR_RAW_NOT_ETHERNET: { title: 'interface does not carry Ethernet frames', hint: 'pick an Ethernet interface (`ip link` shows link/ether) or lo; tun, wireguard and CAN interfaces have no Ethernet header', exit: 1 },
  HX_ERR_RAW_NETNS: { title: 'network namespace cannot be entered', hint: 'check the name (`ip netns list`) or path; entering a namespace needs CAP_SYS_ADMIN (root)', exit: 1 },
  HX_ERR_RAW_FRAME_TOO_BIG: { title: 'frame larger than the interface MTU', hint: 'shorten the payload, or raise the MTU of the interface (ip link set NAME mtu BYTES)', exit: 1 },
  HX_ERR_RAW_QUEUE_FULL: { title: 'raw frames dropped: the send queue is full', hint: 'raise `maxRate` or `maxQueue`, or publish less often', exit: 1 },
  HX_ERR_RAW_SEND: { title: 'raw socket failed: frames cannot be sent', hint: 'the cause is quoted in the message; the restart policy decides what happens next', exit: 1 },
  HX_ERR_RAW_FROM: { title: '`from` does not name a pub/sub hub, or a message cannot become a frame', hint: 'write from: "<hub>:<topic>" naming a kind: pubsub service; message data is text, JSON, { hex } or { base64 } (a MAC address or { mac } with wakeOnLan)', exit: 1 },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code from the table. */
export type ErrorCode = keyof typeof ERROR_CODES;
