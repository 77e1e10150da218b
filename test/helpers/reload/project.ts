import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { logLines, type CliProcess } from '../cli.js';

/** What the reload-under-load project's files say; each reload edits one or two fields of it. */
export interface ProjectState {
  /** The app's response text, in app.mjs. */
  text: string;
  /** The word app.mjs imports from word.mjs (a change in an imported module only). */
  word: string;
  keepAliveTimeout: string;
  maxHeaderSize: string;
  /** The static mounts of `web`: prefix → folder. */
  static: Record<string, string>;
  /** Whether the `extra` http service (its own port) is in the manifest. */
  extra: boolean;
  /** The stem of the tls listener's pair: certs/<stem>.crt and .key. */
  cert: string;
  /** The one token allowed to publish (the subscribers' token never changes). */
  pubToken: string;
  maxPayload: string;
  /** The bot's relay rules, as YAML flow items. */
  relay: string[];
}

/** The token of the 100 subscribers, in every version of the manifest. */
export const SUB_TOKEN = 'sub-token-0001';
/** The bot's nick and channel. */
export const BOT = { nick: 'reloadbot', channel: '#load' } as const;

/** The manifest for `state`: web, extra (optional), secure, hub and bot (at `ircServer`). */
export function manifestOf(state: ProjectState, ircServer: string): string {
  const mounts = Object.entries(state.static);
  return [
    'version: 1',
    'logging: { level: info, format: json }',
    'services:',
    '  web:',
    '    kind: http',
    '    listen: 127.0.0.1:0',
    '    app: ./app.mjs',
    `    keepAliveTimeout: ${state.keepAliveTimeout}`,
    `    maxHeaderSize: ${state.maxHeaderSize}`,
    ...(mounts.length === 0 ? [] : ['    static:', ...mounts.map(([prefix, folder]) => `      ${prefix}: ${folder}`)]),
    ...(state.extra ? ['  extra:', '    kind: http', '    listen: 127.0.0.1:0', '    app: ./extra.mjs'] : []),
    '  secure:',
    '    kind: tls',
    '    listen: 127.0.0.1:0',
    '    serves: web',
    `    cert: ./certs/${state.cert}.crt`,
    `    key: ./certs/${state.cert}.key`,
    // the reload, not the file watch, is what must apply a certificate change here
    '    watch: false',
    '  hub:',
    '    kind: pubsub',
    '    attach: web',
    '    path: /hub',
    `    maxPayload: ${state.maxPayload}`,
    '    auth:',
    '      tokens:',
    `        - { token: ${SUB_TOKEN}, subscribe: ['load.>'] }`,
    `        - { token: ${state.pubToken}, publish: ['load.>', 'alerts', 'news', 'big'] }`,
    '  bot:',
    '    kind: irc',
    `    server: ${ircServer}`,
    `    nick: ${BOT.nick}`,
    `    channels: ['${BOT.channel}']`,
    '    flood: { interval: 0 }',
    '    relay:',
    ...state.relay.map((rule) => `      - ${rule}`),
    '',
  ].join('\n');
}

/**
 * app.mjs: `<text> <word>` at `/` after 20 ms (so that requests are in flight when a reload
 * switches apps), 404 elsewhere (so that a removed static route is seen as gone).
 */
export function appOf(text: string): string {
  return [
    "import { word } from './word.mjs';",
    'export default (req, res) => {',
    "  if (req.url !== '/') { res.statusCode = 404; res.end('not found'); return; }",
    `  setTimeout(() => res.end(${JSON.stringify(text)} + ' ' + word), 20);`,
    '};',
    '',
  ].join('\n');
}

/** Writes the manifest, app.mjs and word.mjs of `state` into `dir`. */
export function writeProject(dir: string, state: ProjectState, ircServer: string): void {
  writeFileSync(join(dir, 'app.mjs'), appOf(state.text));
  writeFileSync(join(dir, 'word.mjs'), `export const word = ${JSON.stringify(state.word)};\n`);
  writeFileSync(join(dir, 'hendrix.yaml'), manifestOf(state, ircServer));
}

/** The instance's one line per reload: applied, failed, or nothing changed. */
export function reloadLines(p: CliProcess): Record<string, unknown>[] {
  return logLines(p).filter((l) => l['service'] === 'hendrix' && typeof l['msg'] === 'string' && /^reload(ed in|: nothing| failed)/.test(l['msg']));
}

/** Polls `test` every 20 ms until it holds; past `timeoutMs` throws with `what()`. */
export async function until(test: () => boolean, what: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
