import { writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../src/log/logger.js';
import { upWith, type Hendrix } from '../../src/runtime/up.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { reloadKinds } from '../helpers/reload-kinds.js';

const makeDir = useManifestDirs();
let app: Hendrix | undefined;

afterEach(async () => {
  await app?.stop().catch(() => undefined);
  app = undefined;
});

function fetchText(port: number): Promise<string> {
  return new Promise((done, fail) => {
    get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done(body));
    }).on('error', fail);
  });
}

describe('a service stopped by the operator (stopService) across a reload', () => {
  it('stays stopped; its edited config applies when it is started again, on a new instance', async () => {
    const manifest = (text: string) => `version: 1\nservices:\n  web: { kind: note, listen: "127.0.0.1:0", text: ${text} }\n  other: { kind: note, listen: "127.0.0.1:0", text: x }\n`;
    const dir = makeDir({ 'hendrix.yaml': manifest('one') });
    app = await upWith(['hendrix.yaml'], { kinds: reloadKinds, cwd: dir, environment: {}, logger: createSilentLogger(), handleFaults: false });
    await app.orchestrator.stopService('web');
    expect(app.orchestrator.state('web')).toBe('stopped');
    writeFileSync(join(dir, 'hendrix.yaml'), manifest('two'));
    const result = await app.reload();
    expect(result.report?.steps).toEqual([expect.objectContaining({ service: 'web', action: 'update', reason: expect.stringContaining('stopped by the operator') })]);
    expect(app.orchestrator.state('web')).toBe('stopped');
    expect(app.orchestrator.state('other')).toBe('ready');
    await app.orchestrator.startService('web');
    const port = Number(new URL(app.addresses().web!).port);
    expect(await fetchText(port)).toMatch(/^two \(/);
  });
});
