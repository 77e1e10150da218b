import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HubClient } from '../helpers/pubsub/test-client.js';
import { spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { needCommand } from '../helpers/system-command.js';

const running: CliProcess[] = [];
const clients: HubClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const p of running.splice(0)) if (p.process.exitCode === null) p.process.kill('SIGKILL');
});

const tempProject = useManifestDirs();
const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');

let nodes = 0;

/** A node of the same manifest: its own control socket, as two instances in one folder need. */
function node(dir: string, env: Record<string, string>): CliProcess {
  const p = spawnCli(['up', '--control', join(dir, `node${++nodes}.sock`)], { cwd: dir, env });
  running.push(p);
  return p;
}

async function hubUrl(p: CliProcess): Promise<string> {
  const ready = await p.waitForLog(isReady, 15_000);
  return String((ready.services as Record<string, string>)['hub']);
}

describe('examples/chat', () => {
  it('serves the page, validates chat messages against the schema, and welcomes a joiner through crosstown and HTTP publish', async () => {
    const p = spawnCli(['up', '-f', 'examples/chat/hendrix.yaml'], { env: { PORT: '0' } });
    running.push(p);
    const url = await hubUrl(p);
    const base = url.replace(/^ws/, 'http').replace(/\/hub$/, '');
    expect((await fetch(`${base}/`)).headers.get('content-type')).toMatch(/text\/html/);
    const client = await HubClient.connect(url);
    clients.push(client);
    await client.request({ type: 'subscribe', topic: 'chat.lobby' });
    expect(await client.request({ type: 'publish', topic: 'chat.lobby', data: { nope: true } })).toMatchObject({ type: 'error', code: 'invalid_data' });
    const joined = await fetch(`${base}/join`, { method: 'POST', body: JSON.stringify({ user: 'ada' }) });
    expect(joined.status).toBe(204);
    const welcome = await client.next((f) => f.type === 'message');
    expect(JSON.stringify(welcome['data'])).toContain('ada');
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
    expect(client.closed?.code ?? (await client.whenClosed()).code).toBe(1001);
  }, 30_000);
});

describe.runIf(needCommand('redis-server', 'redis-server'))('hubs in two hendrix processes sharing a Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it('delivers a message published on one node to a subscriber on the other, with one id and history on both', async () => {
    const dir = tempProject({
      'app.mjs': 'export default (req, res) => res.end("ok")',
      'hendrix.yaml': [
        'version: 1',
        'services:',
        '  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }',
        '  hub:',
        '    kind: pubsub',
        '    attach: web',
        '    backplane: ${REDIS_URL}',
        "    topics: { 'chat.*': { history: 10 } }",
      ].join('\n'),
    });
    const a = node(dir, { REDIS_URL: redis.url });
    const b = node(dir, { REDIS_URL: redis.url });
    const [urlA, urlB] = await Promise.all([hubUrl(a), hubUrl(b)]);
    const onB = await HubClient.connect(urlB);
    const onA = await HubClient.connect(urlA);
    clients.push(onA, onB);
    await onB.request({ type: 'subscribe', topic: 'chat.*' });
    await onA.request({ type: 'subscribe', topic: 'chat.*' });
    const ack = await onA.request({ type: 'publish', topic: 'chat.lobby', data: { text: 'from a' } });
    const id = ack['messageId'];
    expect(await onB.next((f) => f.type === 'message')).toMatchObject({ topic: 'chat.lobby', id, data: { text: 'from a' } });
    expect(await onA.next((f) => f.type === 'message')).toMatchObject({ id });
    // HTTP publish on b: ids go on in one sequence across nodes
    const posted = await fetch(`${urlB.replace(/^ws/, 'http')}/publish/chat.lobby`, { method: 'POST', body: '"from b"' });
    expect(posted.status).toBe(202);
    const second = ((await posted.json()) as { id: string }).id;
    expect(second.split(':')[0]).toBe(String(id).split(':')[0]);
    expect(Number(second.split(':')[1])).toBe(Number(String(id).split(':')[1]) + 1);
    await onA.next((f) => f['id'] === second);
    // a late client on a replays from either node's history
    const late = await HubClient.connect(urlA);
    clients.push(late);
    expect(await late.request({ type: 'subscribe', topic: 'chat.lobby', since: id })).toMatchObject({ replayed: 1 });
    expect(late.messages()[0]).toMatchObject({ id: second, data: 'from b' });
    a.process.kill('SIGTERM');
    b.process.kill('SIGTERM');
    expect(await a.exited()).toBe(0);
    expect(await b.exited()).toBe(0);
  }, 40_000);

  it('fails the start with HX_ERR_PUBSUB_BACKPLANE when Redis cannot be reached', async () => {
    const dir = tempProject({
      'hendrix.yaml': ['version: 1', 'services:', '  hub: { kind: pubsub, listen: "127.0.0.1:0", backplane: "redis://127.0.0.1:1", startTimeout: 1s }'].join('\n'),
    });
    const p = node(dir, {});
    expect(await p.exited()).toBe(1);
    expect(p.stderr()).toContain('HX_ERR_PUBSUB_BACKPLANE');
    expect(p.stderr()).toContain('ECONNREFUSED');
    expect(p.stderr()).toMatch(/hendrix\.yaml:3:\d+/);
  }, 20_000);
});
