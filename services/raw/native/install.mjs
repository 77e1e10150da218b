#!/usr/bin/env node
// The package's `install` script: builds the native addons with node-gyp (binding.gyp) — the raw
// kind's (build/Release/hendrix_raw.node) and the systemd notify sender's
// (build/Release/hendrix_notify.node). A failed build does not fail the install — every other
// kind works without them — it prints what to install instead; a raw service then stops at start
// with HX_ERR_RAW_ADDON, and under systemd `hendrix up` notifies through the systemd-notify binary.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const addon = 'build/Release/hendrix_raw.node';
const notifyAddon = 'build/Release/hendrix_notify.node';

if (process.platform !== 'linux') {
  console.warn(`hendrix: the raw kind sends frames over AF_PACKET and systemd's notify socket is Linux's: the addons are not built on ${process.platform}`);
  process.exit(0);
}

// npm runs scripts with its own node-gyp: npm_config_node_gyp points at it; run by hand, use
// the node-gyp npm ships beside node, else one on PATH
const bundled = join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
const nodeGyp = process.env.npm_config_node_gyp || (existsSync(bundled) ? bundled : undefined);
// headers installed beside node (distribution packages, nodesource) spare node-gyp a download
const prefix = join(dirname(process.execPath), '..');
const localHeaders = !process.env.npm_config_nodedir && headersMatch(join(prefix, 'include/node/node_version.h')) ? [`--nodedir=${prefix}`] : [];
const [command, args] = nodeGyp ? [process.execPath, [nodeGyp, 'rebuild', ...localHeaders]] : ['node-gyp', ['rebuild', ...localHeaders]];
const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

if (result.status === 0 && existsSync(new URL(addon, `file://${root}`)) && existsSync(new URL(notifyAddon, `file://${root}`))) {
  console.log(`hendrix: built ${addon} (the raw kind's AF_PACKET addon) and ${notifyAddon} (systemd notify)`);
  process.exit(0);
}
const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
console.warn(
  [
    `hendrix: could not build ${addon} and ${notifyAddon}: the raw kind will not start (HX_ERR_RAW_ADDON) and under systemd`,
    '  hendrix notifies through the systemd-notify binary (docs/deploy.md); every other kind works.',
    result.error ? `  ${result.error.message}` : output.replace(/^/gm, '  | '),
    '  To build them: install python3, make and a C compiler (apt-get install -y python3 make g++), then run',
    '  `npm rebuild hendrix` in your project (npm 11 runs it only once your project allows it:',
    '  `npm install-scripts approve hendrix`; in a checkout of hendrix itself: `npm run build:addon`).',
  ].join('\n'),
);

/** Whether node_version.h at `file` is the running node's version. */
function headersMatch(file) {
  try {
    const text = readFileSync(file, 'utf8');
    const part = (name) => new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(text)?.[1];
    return `v${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}` === process.version;
  } catch {
    return false;
  }
}
