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
});
