import { spawnSync } from 'node:child_process';

/**
 * Whether a system command (a Debian package's binary: pebble, openssl, testssl, ngircd...) is
 * installed. Tests that need one call `needCommand()` at the top of their `describe`: in CI
 * (`CI=true`) a missing command fails the run — `.ci/run` installs it — and never skips;
 * elsewhere the tests are skipped with the reason printed.
 */
export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Returns true when `name` is installed. When it is not: in CI throws (so the suite fails);
 * elsewhere prints why and returns false, for `describe.runIf(needCommand('pebble'))`.
 */
export function needCommand(name: string, pkg = name): boolean {
  if (hasCommand(name)) return true;
  const message = `the tests need \`${name}\` (Debian package ${pkg}): apt-get install -y ${pkg}`;
  if (process.env['CI'] === 'true') throw new Error(message);
  process.stderr.write(`skipped: ${message}\n`);
  return false;
}
