import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HendrixError, defineServiceKind, plan, up, z } from '../src/index.js';
import { createSilentLogger } from '../src/log/logger.js';
import { useManifestDirs } from './helpers/manifest-dir.js';

const kindsDir = fileURLToPath(new URL('./fixtures/kinds/', import.meta.url));

const project = useManifestDirs();

describe('the programmatic API', () => {
  it('up() starts the graph, serves, exposes addresses and handles, and stop() drains it', async () => {
    const dir = project({
      'app.mjs': 'export default { fetch: (req) => new Response("api " + new URL(req.url).pathname) }',
      'hendrix.yaml': 'version: 1\nservices:\n  web: { kind: http, listen: "${PORT}", app: ./app.mjs }\n',
    });
    const app = await up(join(dir, 'hendrix.yaml'), { environment: { PORT: '127.0.0.1:0' }, logger: createSilentLogger() });
    let stopped = '';
    try {
      const address = app.addresses().web!;
      expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await (await fetch(`${address}/x`)).text()).toBe('api /x');
      expect(app.handle<{ url: string }>('web').url).toBe(address);
      expect(app.orchestrator.state('web')).toBe('ready');
      stopped = address;
    } finally {
      await app.stop();
    }
    expect(app.orchestrator.state('web')).toBe('stopped');
    expect(app.addresses()).toEqual({});
    await expect(fetch(stopped)).rejects.toThrow();
  });

  it('up() runs a manifest with workers in this one process, and says so', async () => {
    const dir = project({
      'app.mjs': 'export default (req, res) => res.end(String(process.pid))',
      'hendrix.yaml': 'version: 1\nworkers: 2\nservices:\n  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }\n',
    });
    const lines: Record<string, unknown>[] = [];
    const { default: pino } = await import('pino');
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const app = await up(join(dir, 'hendrix.yaml'), { environment: {}, logger });
    try {
      expect(await (await fetch(app.addresses().web!)).text()).toBe(String(process.pid));
      expect(lines.find((l) => l.workers === 2)?.msg).toBe('up() runs the graph in this one process: `workers` applies to `hendrix up`');
    } finally {
      await app.stop();
    }
  });

  it('up() rejects with every manifest problem as one HendrixError', async () => {
    const dir = project({ 'hendrix.yaml': 'services:\n  web: { kind: htp }\n  api: { kind: http, dependsOn: [wbe] }\n' });
    const error = await up(join(dir, 'hendrix.yaml'), { environment: {}, logger: createSilentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HendrixError);
    const codes = (error as HendrixError).errors.map((e) => e.code);
    expect(codes).toContain('HX_ERR_UNKNOWN_KIND');
    expect(codes).toContain('HX_ERR_UNKNOWN_REFERENCE');
  });

  it('loads a custom kind from an installed ESM-only package, with its references as edges', async () => {
    const dir = mkdtempSync(join(kindsDir, 'tmp-'));
    writeFileSync(join(dir, 'hendrix.yaml'), 'services:\n  web: { kind: http }\n  jobs: { kind: hendrix-kind-queue, feeds: [web] }\n');
    try {
      const { resolved, graph } = await plan(join(dir, 'hendrix.yaml'), { environment: {} });
      expect(resolved.kinds.get('jobs')?.kind).toBe('queue');
      expect(graph.order).toEqual(['web', 'jobs']);
      expect(graph.edges).toContainEqual(expect.objectContaining({ from: 'jobs', to: 'web', via: 'feeds' }));
    } finally {
      const { rmSync } = await import('node:fs');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('defineServiceKind() checks its descriptor', () => {
    expect(() => defineServiceKind({ kind: '', schema: z.strictObject({}), create: () => ({ start: async () => {}, stop: async () => {} }) })).toThrow(
      /kind/,
    );
  });

  it('plan() returns a frozen plan: order, fingerprints, files; the same manifest plans to the same fingerprints', async () => {
    const dir = project({
      'app.mjs': 'import { greet } from "./greet.mjs";\nexport default (req, res) => res.end(greet())',
      'greet.mjs': 'export const greet = () => "hi";',
      'hendrix.yaml': 'services:\n  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }\n',
    });
    const first = await plan(join(dir, 'hendrix.yaml'), { environment: {} });
    expect(Object.isFrozen(first)).toBe(true);
    expect(first.order).toEqual(['web']);
    const web = first.services.get('web')!;
    expect(web.files.map((f) => [f.role, f.path.slice(dir.length + 1)])).toEqual([
      ['manifest', 'hendrix.yaml'],
      ['app', 'app.mjs'],
      ['module', 'greet.mjs'],
    ]);
    const again = await plan(join(dir, 'hendrix.yaml'), { environment: {} });
    expect(again.services.get('web')?.fingerprint).toBe(web.fingerprint);
    expect(again.fingerprint).toBe(first.fingerprint);
    writeFileSync(join(dir, 'greet.mjs'), 'export const greet = () => "hello";');
    const changed = await plan(join(dir, 'hendrix.yaml'), { environment: {} });
    expect(changed.services.get('web')?.configFingerprint).toBe(web.configFingerprint);
    expect(changed.services.get('web')?.fingerprint).not.toBe(web.fingerprint);
  });

  it('a service that ends failed stops the graph (onFailed: stop) and says which and why', async () => {
    const crashy = fileURLToPath(new URL('./fixtures/kinds/crashy-kind.mjs', import.meta.url));
    const dir = project({
      'app.mjs': 'export default (req, res) => res.end("ok")',
      'hendrix.yaml': `services:\n  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }\n  worker: { kind: ${crashy}, after: 20, restart: { policy: "no" } }\n`,
    });
    const app = await up(join(dir, 'hendrix.yaml'), { environment: {}, logger: createSilentLogger() });
    const deadline = Date.now() + 5_000;
    while (app.orchestrator.state('web') !== 'stopped' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(app.failure?.service).toBe('worker');
    expect((app.failure?.error as HendrixError).code).toBe('HX_ERR_SERVICE_CRASHED');
    expect(app.orchestrator.states()).toEqual({ web: 'stopped', worker: 'failed' });
  });
});
