import { writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isHendrixError } from '../../src/errors/hendrix-error.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { upWith, type Hendrix } from '../../src/runtime/up.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { reloadCalls, reloadKinds } from '../helpers/reload-kinds.js';

const makeDir = useManifestDirs();
let app: Hendrix | undefined;
let dir = '';

const manifest = (services: string) => `version: 1\nservices:\n${services}`;
const write = (services: string) => writeFileSync(join(dir, 'hendrix.yaml'), manifest(services));
const start = async (services: string) => {
  dir = makeDir({ 'hendrix.yaml': manifest(services) });
  app = await upWith(['hendrix.yaml'], { kinds: reloadKinds, cwd: dir, environment: {}, logger: createSilentLogger(), handleFaults: false });
  return app;
};
const port = (name: string) => Number(new URL(app!.addresses()[name]!).port);

/** GET / over `agent`; resolves with the body and the client socket's local port (same port: same connection). */
function fetchText(p: number, agent: Agent | false = false): Promise<{ body: string; local: number | undefined }> {
  return new Promise((done, fail) => {
    const req = get({ host: '127.0.0.1', port: p, path: '/', agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done({ body, local: req.socket?.localPort }));
    });
    req.on('error', fail);
  });
}

beforeEach(() => void reloadCalls.splice(0));
afterEach(async () => {
  await app?.stop().catch(() => undefined);
  app = undefined;
});

describe('reload: the orchestrator applies an edited manifest to the running graph', () => {
  it('a field the kind applies in place: same instance, same keep-alive connection, new text', async () => {
    await start(`  web: { kind: note, listen: "127.0.0.1:0", text: one }\n`);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await fetchText(port('web'), agent);
    expect(before.body).toMatch(/^one \(a#\d+\)$/);
    write(`  web: { kind: note, listen: "127.0.0.1:0", text: two }\n`);
    const result = await app!.reload();
    expect(result.applied).toBe(true);
    expect(result.report?.steps.map((s) => `${s.service} ${s.action}`)).toEqual(['web reload']);
    const after = await fetchText(port('web'), agent);
    expect(after.body).toBe(before.body.replace('one', 'two'));
    expect(after.local).toBe(before.local);
    expect(app!.orchestrator.state('web')).toBe('ready');
    agent.destroy();
  });

  it('a field it cannot apply: a new instance takes the same port while requests keep coming, then the old one stops', async () => {
    await start(`  web: { kind: note, listen: "127.0.0.1:0", variant: a }\n`);
    const p = port('web');
    let stop = false;
    const bodies: string[] = [];
    const load = (async () => {
      while (!stop) bodies.push((await fetchText(p)).body);
    })();
    write(`  web: { kind: note, listen: "127.0.0.1:0", variant: b }\n`);
    const result = await app!.reload();
    expect(result.report?.steps.map((s) => `${s.service} ${s.action}`)).toEqual(['web replace']);
    expect(port('web')).toBe(p);
    expect((await fetchText(p)).body).toMatch(/^hello \(b#\d+\)$/);
    stop = true;
    await load; // a refused connection would have rejected here
    expect(bodies.length).toBeGreaterThan(0);
    await until(() => reloadCalls.filter((c) => c.endsWith(' stop')).length === 1);
  });

  it('dependents rebind to a replaced dependency without restarting; one that cannot rebind is replaced too', async () => {
    await start(
      `  base: { kind: note, listen: "127.0.0.1:0", text: b1 }\n` +
        `  front: { kind: note, listen: "127.0.0.1:0", from: base, text: f }\n` +
        `  stiff: { kind: note, listen: "127.0.0.1:0", from: base, text: s, rebind: false }\n`,
    );
    expect((await fetchText(port('front'))).body).toMatch(/^b1\+f/);
    write(
      `  base: { kind: note, listen: "127.0.0.1:0", text: b2, variant: z }\n` +
        `  front: { kind: note, listen: "127.0.0.1:0", from: base, text: f }\n` +
        `  stiff: { kind: note, listen: "127.0.0.1:0", from: base, text: s, rebind: false }\n`,
    );
    const result = await app!.reload();
    const steps = result.report!.steps.map((s) => `${s.service} ${s.action}`);
    expect(steps).toEqual(expect.arrayContaining(['base replace', 'front rebind', 'stiff replace']));
    expect(result.report!.steps.find((s) => s.service === 'stiff')?.reason).toMatch(/depends on base/);
    expect((await fetchText(port('front'))).body).toMatch(/^b2\+f/);
    expect((await fetchText(port('stiff'))).body).toMatch(/^b2\+s/);
    expect(reloadCalls.filter((c) => c.startsWith('front') && c.endsWith(' start'))).toHaveLength(1);
  });

  it('added services start, removed ones stop, unchanged ones are not touched', async () => {
    await start(`  keep: { kind: note, listen: "127.0.0.1:0" }\n  old: { kind: note, listen: "127.0.0.1:0" }\n`);
    write(`  keep: { kind: note, listen: "127.0.0.1:0" }\n  fresh: { kind: note, listen: "127.0.0.1:0", text: new }\n`);
    const result = await app!.reload();
    expect(result.report!.steps.map((s) => `${s.service} ${s.action}`)).toEqual(['old stop', 'fresh start']);
    expect(app!.orchestrator.services).toEqual(['keep', 'fresh']);
    expect((await fetchText(port('fresh'))).body).toMatch(/^new/);
    expect(reloadCalls.filter((c) => c.startsWith('keep'))).toEqual([expect.stringMatching(/keep#\d+ start/)]);
  });

  it('a new service that fails to start rolls the whole reload back: the reloaded one gets its old config again', async () => {
    await start(`  web: { kind: note, listen: "127.0.0.1:0", text: one }\n`);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await fetchText(port('web'), agent);
    write(`  web: { kind: note, listen: "127.0.0.1:0", text: two }\n  zzz: { kind: note, listen: "127.0.0.1:0", fail: start, dependsOn: [web] }\n`);
    const error = await app!.reload().catch((e: unknown) => e);
    expect(isHendrixError(error) && error.code).toBe('HX_ERR_RELOAD_FAILED');
    expect(String((error as Error).message)).toMatch(/told to fail at start.*rolled back/);
    expect(reloadCalls).toEqual(expect.arrayContaining([expect.stringMatching(/web#\d+ reload two/), expect.stringMatching(/web#\d+ reload one/)]));
    const after = await fetchText(port('web'), agent);
    expect(after).toEqual(before);
    expect(app!.orchestrator.services).toEqual(['web']);
    // the next good edit applies
    write(`  web: { kind: note, listen: "127.0.0.1:0", text: three }\n`);
    await app!.reload();
    expect((await fetchText(port('web'), agent)).body).toMatch(/^three/);
    agent.destroy();
  });

  it('a renamed service takes the port of the one removed; when the reload fails, the removed one starts again', async () => {
    const fixed = await freePort();
    await start(`  web: { kind: note, listen: "127.0.0.1:${fixed}", text: old }\n`);
    write(`  site: { kind: note, listen: "127.0.0.1:${fixed}", text: new }\n  bad: { kind: note, listen: "127.0.0.1:0", fail: start, dependsOn: [site] }\n`);
    const error = await app!.reload().catch((e: unknown) => e);
    expect(isHendrixError(error) && error.code).toBe('HX_ERR_RELOAD_FAILED');
    expect(app!.orchestrator.services).toEqual(['web']);
    expect((await fetchText(fixed)).body).toMatch(/^old/);
    write(`  site: { kind: note, listen: "127.0.0.1:${fixed}", text: new }\n`);
    const result = await app!.reload();
    expect(result.report!.steps.map((s) => `${s.service} ${s.action}`)).toEqual(['web stop', 'site start']);
    expect((await fetchText(fixed)).body).toMatch(/^new/);
  });

  it('a replacement that fails to start leaves the old instance serving on its socket', async () => {
    await start(`  web: { kind: note, listen: "127.0.0.1:0", variant: a }\n`);
    const p = port('web');
    write(`  web: { kind: note, listen: "127.0.0.1:0", variant: b, fail: start }\n`);
    const error = await app!.reload().catch((e: unknown) => e);
    expect(isHendrixError(error) && error.code).toBe('HX_ERR_RELOAD_FAILED');
    expect((await fetchText(p)).body).toMatch(/^hello \(a#/);
  });

  it('a broken manifest changes nothing: the plan error comes back, the graph serves on', async () => {
    await start(`  web: { kind: note, listen: "127.0.0.1:0", text: one }\n`);
    write(`  web: { kind: note, listen: "127.0.0.1:0", txt: one }\n`);
    const error = await app!.reload().catch((e: unknown) => e);
    expect(isHendrixError(error) && error.code).toBe('HX_ERR_MANIFEST');
    expect((await fetchText(port('web'))).body).toMatch(/^one/);
  });

  it('a dry run diffs and changes nothing; a change of common fields only is applied by the orchestrator alone', async () => {
    await start(`  web: { kind: note, listen: "127.0.0.1:0", text: one }\n`);
    write(`  web: { kind: note, listen: "127.0.0.1:0", text: two, stopTimeout: 3s }\n`);
    const dry = await app!.reload({ dryRun: true });
    expect(dry.applied).toBe(false);
    expect(dry.diff.changed.map((c) => [c.name, c.mode])).toEqual([['web', 'in-place']]);
    expect((await fetchText(port('web'))).body).toMatch(/^one/);
    write(`  web: { kind: note, listen: "127.0.0.1:0", text: one, stopTimeout: 3s }\n`);
    const result = await app!.reload();
    expect(result.report!.steps.map((s) => `${s.service} ${s.action}`)).toEqual(['web update']);
    expect(reloadCalls.some((c) => c.includes('reload'))).toBe(false);
    expect(app!.plan.services.get('web')!.config.stopTimeout).toBe(3000);
  });

  it('reloads are serialized, and replace: [name] replaces an unchanged service', async () => {
    await start(`  web: { kind: note, listen: "127.0.0.1:0", text: one }\n`);
    write(`  web: { kind: note, listen: "127.0.0.1:0", text: two }\n`);
    const [a, b] = await Promise.all([app!.reload(), app!.reload({ replace: ['web'] })]);
    expect(a.report!.steps.map((s) => s.action)).toEqual(['reload']);
    expect(b.report!.steps.map((s) => s.action)).toEqual(['replace']);
    expect((await fetchText(port('web'))).body).toMatch(/^two \(a#/);
  });
});

function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const { port: p } = server.address() as { port: number };
      server.close(() => done(p));
    });
  });
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}
