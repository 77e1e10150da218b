import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { HendrixError } from '../errors/hendrix-error.js';

/**
 * The longest path a unix socket may have on Linux: `sun_path` holds 108 bytes including the
 * terminating NUL. (macOS allows 103; a path over that fails there at listen.)
 */
export const MAX_SOCKET_PATH_BYTES = 107;

/** The user id of this process, or undefined where there is none (Windows). */
function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

function pathError(message: string, hint?: string, cause?: unknown): HendrixError {
  return new HendrixError('HX_ERR_CONTROL_PATH', { message, ...(hint ? { hint } : {}), cause });
}

/**
 * Creates `dir` (mode 0700) when it is missing and checks that it is private: a real folder
 * (not a symlink someone planted), owned by this user, that no group or other user may enter.
 * Anyone who can write to the folder could replace the socket with their own and receive the
 * commands meant for us, and anyone who can enter it could connect: Node has no SO_PEERCRED,
 * so the folder's and the socket's modes are what keep other users out.
 */
export function ensurePrivateDir(dir: string, uid = currentUid()): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw pathError(`cannot create the control socket folder ${dir}: ${(cause as Error).message}`, undefined, cause);
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) {
    throw pathError(`the control socket folder ${dir} is not a folder (a symlink or a file is in its place)`, `remove ${dir}; hendrix creates it`);
  }
  if (uid !== undefined && st.uid !== uid) {
    throw pathError(
      `the control socket folder ${dir} belongs to uid ${st.uid}, not to this user (uid ${uid})`,
      `another user may have created it to intercept the control socket: remove ${dir}, or pass \`--control PATH\``,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    throw pathError(
      `the control socket folder ${dir} is open to other users (mode 0${(st.mode & 0o777).toString(8)})`,
      `run \`chmod 700 ${dir}\`, or remove it and let hendrix create it`,
    );
  }
}

/**
 * Checks a control socket path (a default or a `--control PATH`) and returns it absolute:
 * at most 107 bytes, in an existing folder that other users cannot write to unless the folder
 * is sticky (like /tmp, where they cannot remove or replace a file of ours).
 */
export function checkControlPath(path: string, uid = currentUid()): string {
  const absolute = resolve(path);
  const bytes = Buffer.byteLength(absolute);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw pathError(
      `the control socket path ${absolute} is ${bytes} bytes; a unix socket path may have at most ${MAX_SOCKET_PATH_BYTES}`,
      'pass a shorter `--control PATH` (e.g. in $XDG_RUNTIME_DIR or /tmp)',
    );
  }
  const dir = dirname(absolute);
  let st;
  try {
    st = statSync(dir);
  } catch (cause) {
    throw pathError(`the folder of the control socket ${absolute} does not exist`, `create ${dir} (mode 0700), or pass another \`--control PATH\``, cause);
  }
  if (!st.isDirectory()) throw pathError(`the folder of the control socket ${absolute} is not a folder`);
  const sticky = (st.mode & 0o1000) !== 0;
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    throw pathError(`the folder of the control socket ${absolute} belongs to uid ${st.uid}, not to this user (uid ${uid})`, 'pass a `--control PATH` in a folder of your own');
  }
  if ((st.mode & 0o022) !== 0 && !sticky) {
    throw pathError(
      `other users may write to ${dir} (mode 0${(st.mode & 0o777).toString(8)}), the folder of the control socket ${absolute}`,
      `run \`chmod go-w ${dir}\`, or pass a \`--control PATH\` in a private folder`,
    );
  }
  return absolute;
}

/**
 * The control socket path of the manifest in `baseDir`, created on demand:
 * `$XDG_RUNTIME_DIR/hendrix/<id>.sock`, or `/tmp/hendrix-<uid>/<id>.sock` where there is no
 * XDG runtime folder, `<id>` being the first 16 hex digits of the SHA-256 of the folder's real
 * path — stable for one folder (whatever symlink or relative path leads to it), distinct for
 * two, and short enough for the 107-byte limit. The folder is made 0700 and checked to be
 * private (ensurePrivateDir); a folder owned by another user or open to others is refused.
 */
export function defaultControlPath(baseDir: string, env: NodeJS.ProcessEnv = process.env, uid = currentUid()): string {
  let real: string;
  try {
    real = realpathSync(baseDir);
  } catch {
    real = resolve(baseDir);
  }
  const id = createHash('sha256').update(real).digest('hex').slice(0, 16);
  const runtimeDir = env['XDG_RUNTIME_DIR'];
  const dir = runtimeDir && runtimeDir.startsWith('/') ? join(runtimeDir, 'hendrix') : join('/tmp', `hendrix-${uid ?? 'user'}`);
  ensurePrivateDir(dir, uid);
  return checkControlPath(join(dir, `${id}.sock`), uid);
}
