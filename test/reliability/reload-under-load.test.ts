import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addressOf, logLines, runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { Observer } from '../helpers/irc/test-harness.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { startNgircd, stopAllNgircd } from '../helpers/ngircd.js';
import { keepAliveHeader, request, startLoad, type Answer, type Load } from '../helpers/reload/load.js';
import { bigPublish, fingerprintOf, servedFingerprint, wsOutcome } from '../helpers/reload/probes.js';
import { BOT, reloadLines, SUB_TOKEN, until, writeProject, type ProjectState } from '../helpers/reload/project.js';
import { subscribeCrowd, type Subscribers } from '../helpers/reload/subscribers.js';
import { needCommand } from '../helpers/system-command.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../helpers/test-certs.js';

// The acceptance test of reload (#14): `hendrix up` under load — 30 keep-alive clients (20 http,
// 10 https through the tls listener), 100 hub subscribers (80 ws, 20 wss), an IRC bot in a
// channel of a real ngircd — through 20 reloads, each a different edit, applied alternately by
// `hendrix reload` and SIGHUP. Every request answered, no WebSocket closed, every message
// published after each reload received by all, one IRC connection, each change visible.

const HTTP_LOOPS = 20;
const HTTPS_LOOPS = 10;
const SUBSCRIBERS = 100;
/** Pause between two requests of one loop: ~300 requests/s in all, paced for a shared machine. */
const PACE_MS = 100;

/** One edit: what it writes, which steps the instance reports, and how the change shows. */
interface Edit {
  name: string;
  /** Checked before the reload (the old behaviour), where the change is a refusal. */
  before?(): Promise<void>;
  change(state: ProjectState): void;
  /** The reload's steps as `service action`, sorted. */
  steps: string[];
  after(): Promise<void>;
}

const running: CliProcess[] = [];
let observer: Observer | undefined;
let crowd: Subscribers | undefined;
let load: Load | undefined;
afterAll(async () => {
  await load?.stop();
  crowd?.close();
  for (const p of running) if (p.process.exitCode === null && p.process.signalCode === null) p.process.kill('SIGKILL');
  await observer?.close();
  await stopAllNgircd();
});

describe.runIf(needCommand('ngircd'))('20 reloads under load', () => {
  const makeDir = useManifestDirs();
  const certDir = useCertDir();

  it('0 failed requests, 0 WebSocket closes, every message to every subscriber, one IRC connection, each change visible', async () => {
    const ca = await createTestCa(certDir);
    const leaf = (name: string): Promise<TestCert> => createLeaf(certDir, ca, { hosts: ['localhost', '127.0.0.1'], name });
    const [certA, certB, certC] = await Promise.all([leaf('a'), leaf('b'), leaf('c')]);
    const ngircd = await startNgircd();
    const w = await Observer.connect(ngircd.port, 'loadwatch', [BOT.channel]);
    observer = w;

    const state: ProjectState = {
      text: 'one',
      word: 'a',
      keepAliveTimeout: '5s',
      maxHeaderSize: '16kb',
      static: {},
      extra: false,
      cert: 'a',
      pubToken: 'pub-token-0001',
      maxPayload: '64kb',
      relay: ["{ from: 'hub:alerts', to: '#load', format: 'v1 {data}' }"],
    };
    const dir = makeDir({ 'extra.mjs': "export default (req, res) => res.end('extra');\n", 'public/hello.txt': 'static hello\n', 'public2/other.txt': 'other file\n' });
    mkdirSync(join(dir, 'certs'));
    const copyPair = (pair: TestCert, stem: string): void => {
      copyFileSync(pair.certFile, join(dir, 'certs', `${stem}.crt`));
      copyFileSync(pair.keyFile, join(dir, 'certs', `${stem}.key`));
    };
    copyPair(certA, 'a');
    copyPair(certB, 'b');
    writeProject(dir, state, ngircd.server);

    const p = spawnCli(['up'], { cwd: dir });
    running.push(p);
    const ready = await p.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('ready:'), 20_000);
    const web = addressOf(ready, 'web');
    const secure = addressOf(ready, 'secure');
    const hubWs = `${web.replace(/^http/, 'ws')}/hub`;
    const hubWss = `${secure.replace(/^https/, 'wss')}/hub`;
    await w.until(() => w.channelsOf('join', BOT.nick).includes(BOT.channel), 'the bot in the channel', 10_000);
    const signon = await w.signon(BOT.nick);

    crowd = await subscribeCrowd(
      [
        ...Array.from({ length: 4 }, () => ({ url: `${hubWs}?token=${SUB_TOKEN}` })),
        { url: `${hubWss}?token=${SUB_TOKEN}`, options: { ca: ca.cert } },
      ],
      SUBSCRIBERS,
      'load.tick',
    );
    const subs = crowd;

    // the texts the app has served: a request running across a switch may get the old one
    const texts = new Set(['one a']);
    const accept = (a: Answer): boolean => a.status === 200 && texts.has(a.body);
    load = startLoad({
      urls: [...Array.from({ length: HTTP_LOOPS }, () => `${web}/`), ...Array.from({ length: HTTPS_LOOPS }, () => `${secure}/`)],
      ca: ca.cert,
      paceMs: PACE_MS,
      accept,
    });
    const loadNow = load;

    const get = (url: string, headers: Record<string, string> = {}): Promise<Answer> => request(url, { headers, ca: ca.cert });
    const publish = (topic: string, data: unknown, token = state.pubToken): Promise<Answer> =>
      request(`${web}/hub/publish/${topic}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(data) });
    const published: string[] = [];
    /** Publishes one tick and waits until all 100 subscribers have it. */
    const tick = async (label: string): Promise<void> => {
      const answer = await publish('load.tick', label);
      expect(answer.status, answer.body).toBe(202);
      const id = String((JSON.parse(answer.body) as { id: string }).id);
      published.push(id);
      await subs.waitFor(id);
    };
    /** Publishes `data` on `topic` and waits for the bot to say `line` in the channel. */
    const relayed = async (topic: string, data: string, line: string): Promise<void> => {
      expect((await publish(topic, data)).status).toBe(202);
      await w.waitFor(() => w.textsFrom(BOT.nick, BOT.channel).includes(line), 10_000, line);
    };
    const text = async (expected: string): Promise<void> => {
      const answer = await get(`${web}/`);
      expect([answer.status, answer.body]).toEqual([200, expected]);
    };
    let extraUrl = '';

    await tick('before any reload');
    await relayed('alerts', 'relay-0', 'v1 relay-0');

    const edits: Edit[] = [
      { name: 'app text', change: (s) => (s.text = 'two'), steps: ['web reload'], after: () => text('two a') },
      {
        name: 'keepAliveTimeout 5s → 7s',
        change: (s) => (s.keepAliveTimeout = '7s'),
        steps: ['web reload'],
        after: async () => expect(await keepAliveHeader(`${web}/`, ca.cert)).toBe('timeout=7'),
      },
      {
        name: 'static route /assets added',
        before: async () => expect((await get(`${web}/assets/hello.txt`)).status).toBe(404),
        change: (s) => (s.static = { '/assets': './public' }),
        steps: ['web reload'],
        after: async () => expect([(await get(`${web}/assets/hello.txt`)).body, (await get(`${secure}/assets/hello.txt`)).body]).toEqual(['static hello\n', 'static hello\n']),
      },
      {
        name: 'hub publish token rotated',
        change: (s) => (s.pubToken = 'pub-token-0002'),
        steps: ['hub reload'],
        after: async () => {
          expect((await publish('load.other', 'old token', 'pub-token-0001')).status).toBe(401);
          expect(await wsOutcome(`${hubWs}?token=pub-token-0001`, ca.cert)).toBe('refused: 401');
          expect(await wsOutcome(`${hubWss}?token=pub-token-0002`, ca.cert)).toBe('open');
        },
      },
      {
        name: 'http service extra added on a new port',
        change: (s) => (s.extra = true),
        steps: ['extra start'],
        after: async () => {
          const line = logLines(p).find((l) => l['service'] === 'extra' && l['msg'] === 'listening');
          extraUrl = String(line?.['address']);
          expect([extraUrl === web, (await get(`${extraUrl}/`)).body]).toEqual([false, 'extra']);
        },
      },
      {
        name: 'relay format v1 → v2',
        change: (s) => (s.relay = ["{ from: 'hub:alerts', to: '#load', format: 'v2 {data}' }"]),
        steps: ['bot reload'],
        after: () => relayed('alerts', 'relay-6', 'v2 relay-6'),
      },
      {
        name: 'certificate a → b (another file)',
        before: async () => expect(await servedFingerprint(secure, ca.cert)).toBe(fingerprintOf(certA.cert)),
        change: (s) => (s.cert = 'b'),
        steps: ['secure reload'],
        after: async () => expect(await servedFingerprint(secure, ca.cert)).toBe(fingerprintOf(certB.cert)),
      },
      {
        name: 'static route /assets removed',
        change: (s) => (s.static = {}),
        steps: ['web reload'],
        after: async () => expect((await get(`${web}/assets/hello.txt`)).status).toBe(404),
      },
      {
        name: 'http service extra removed',
        change: (s) => (s.extra = false),
        steps: ['extra stop'],
        after: async () => expect(await get(`${extraUrl}/`).then((a) => `answered ${a.status}`, (e: NodeJS.ErrnoException) => e.code)).toBe('ECONNREFUSED'),
      },
      { name: 'imported module changed', change: (s) => (s.word = 'b'), steps: ['web reload'], after: () => text('two b') },
      {
        name: 'maxHeaderSize 16kb → 8kb',
        before: async () => expect((await get(`${web}/`, { 'x-big': 'y'.repeat(12_000) })).status).toBe(200),
        change: (s) => (s.maxHeaderSize = '8kb'),
        steps: ['web reload'],
        after: async () => expect((await get(`${web}/`, { 'x-big': 'y'.repeat(12_000) })).status).toBe(431),
      },
      {
        name: 'hub publish token rotated again',
        change: (s) => (s.pubToken = 'pub-token-0003'),
        steps: ['hub reload'],
        after: async () => {
          expect((await publish('load.other', 'old token', 'pub-token-0002')).status).toBe(401);
          expect(await wsOutcome(`${hubWs}?token=pub-token-0002`, ca.cert)).toBe('refused: 401');
        },
      },
      {
        name: 'relay from another topic',
        change: (s) => (s.relay = ["{ from: 'hub:news', to: '#load', format: 'v3 {topic} {data}' }"]),
        steps: ['bot reload'],
        after: async () => {
          // published first, relayed in order if at all: the news line coming alone proves it was not
          expect((await publish('alerts', 'relay-13-old')).status).toBe(202);
          await relayed('news', 'relay-13', 'v3 news relay-13');
          expect(w.textsFrom(BOT.nick, BOT.channel).filter((t) => t.includes('relay-13-old'))).toEqual([]);
        },
      },
      {
        name: 'certificate b rewritten in place with c',
        change: () => copyPair(certC, 'b'),
        steps: ['secure reload'],
        after: async () => expect(await servedFingerprint(secure, ca.cert)).toBe(fingerprintOf(certC.cert)),
      },
      {
        name: 'static route /files added',
        change: (s) => (s.static = { '/files': './public2' }),
        steps: ['web reload'],
        after: async () => expect((await get(`${web}/files/other.txt`)).body).toBe('other file\n'),
      },
      {
        name: 'hub maxPayload 64kb → 2kb',
        before: async () => expect(await bigPublish(`${hubWs}?token=${state.pubToken}`, 3_000, 'big')).toBe('ack'),
        change: (s) => (s.maxPayload = '2kb'),
        steps: ['hub reload'],
        after: async () => expect(await bigPublish(`${hubWs}?token=${state.pubToken}`, 3_000, 'big')).toBe('closed 1009'),
      },
      {
        name: 'keepAliveTimeout 7s → 6s and maxHeaderSize back to 16kb',
        change: (s) => Object.assign(s, { keepAliveTimeout: '6s', maxHeaderSize: '16kb' }),
        steps: ['web reload'],
        after: async () => {
          expect((await get(`${web}/`, { 'x-big': 'y'.repeat(12_000) })).status).toBe(200);
          expect(await keepAliveHeader(`${web}/`, ca.cert)).toBe('timeout=6');
        },
      },
      {
        name: 'static route /files removed',
        change: (s) => (s.static = {}),
        steps: ['web reload'],
        after: async () => expect((await get(`${web}/files/other.txt`)).status).toBe(404),
      },
      {
        name: 'relay back to alerts, format v4',
        change: (s) => (s.relay = ["{ from: 'hub:alerts', to: '#load', format: 'v4 {data}' }"]),
        steps: ['bot reload'],
        after: () => relayed('alerts', 'relay-19', 'v4 relay-19'),
      },
      {
        name: 'certificate back to a and new app text, in one reload',
        change: (s) => Object.assign(s, { cert: 'a', text: 'three' }),
        steps: ['secure reload', 'web reload'],
        after: async () => {
          expect(await servedFingerprint(secure, ca.cert)).toBe(fingerprintOf(certA.cert));
          await text('three b');
        },
      },
    ];
    expect(edits).toHaveLength(20);

    for (const [index, edit] of edits.entries()) {
      const n = index + 1;
      // requests keep coming between reloads: wait for some since the last one
      const okBefore = loadNow.ok();
      await until(() => loadNow.ok() > okBefore + HTTP_LOOPS, () => `load stalled before reload ${n}`);
      await edit.before?.();
      edit.change(state);
      texts.add(`${state.text} ${state.word}`);
      writeProject(dir, state, ngircd.server);
      const seen = reloadLines(p).length;
      if (n % 2 === 1) {
        const cli = await runCli(['reload'], { cwd: dir });
        expect(cli.code, `reload ${n} (${edit.name}): ${cli.stdout}${cli.stderr}`).toBe(0);
      } else {
        p.process.kill('SIGHUP');
      }
      await until(() => reloadLines(p).length > seen, () => `no reload line for reload ${n} (${edit.name}):\n${p.stdout().slice(-2000)}`, 20_000);
      const line = reloadLines(p)[seen] as { msg: string; reload?: { service: string; action: string }[] };
      expect(line.msg, `reload ${n} (${edit.name})`).toMatch(/^reloaded in/);
      expect((line.reload ?? []).map((s) => `${s.service} ${s.action}`).sort(), `reload ${n} (${edit.name})`).toEqual(edit.steps);
      await edit.after();
      await tick(`after reload ${n}`);
    }

    const report = await loadNow.stop();
    load = undefined;
    expect(report.failures).toEqual([]);
    // each client kept its one keep-alive connection through the 20 reloads
    expect(report.connections).toEqual(Array.from({ length: HTTP_LOOPS + HTTPS_LOOPS }, () => 1));
    expect(subs.closes()).toEqual([]);
    expect(subs.unexpected()).toEqual([]);
    expect(published).toHaveLength(21);
    for (const ids of subs.ids()) expect(ids).toEqual(published);
    expect(w.quits).toEqual([]);
    expect(w.channelsOf('join', BOT.nick)).toEqual([BOT.channel]);
    expect(await w.signon(BOT.nick)).toBe(signon);
    expect(logLines(p).filter((l) => Number(l['level']) >= 50)).toEqual([]);

    subs.close();
    p.process.kill('SIGTERM');
    expect(await p.exited(), p.stderr()).toBe(0);
    // the observer does see the bot's QUIT: the one at the stop
    await w.until(() => w.quits.some((q) => q.nick === BOT.nick), 'the bot quitting at the stop');
    process.stdout.write(`reload under load: ${report.ok} requests answered, ${published.length} messages × ${SUBSCRIBERS} subscribers\n`);
  }, 55_000);
});
