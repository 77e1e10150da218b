import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';

// What the built CLI (`npm run build` first) says when -f names a folder, or when a folder has
// only the example manifest.

const project = useManifestDirs();

const EXAMPLE = 'version: 1\nservices:\n  web: { kind: http, listen: "127.0.0.1:0" }\n';

describe('-f on a folder', () => {
  it('says the folder is a folder and names the manifest file inside it (check and up)', async () => {
    for (const command of ['check', 'up']) {
      const r = await runCli([command, '-f', 'examples/hello']);
      expect(r.code, r.stderr).toBe(78);
      expect(r.stderr).toContain('error[HX_ERR_MANIFEST_READ]: `examples/hello` is a folder, not a manifest file');
      expect(r.stderr).toContain('hint: pass the manifest file: -f examples/hello/hendrix.yaml');
      expect(r.stderr).not.toContain('EISDIR');
    }
  });

  it('does not name a file the folder does not have', async () => {
    const dir = project({ 'notes/readme.txt': 'no manifest here\n' });
    const r = await runCli(['check', '-f', 'notes'], { cwd: dir });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('`notes` is a folder, not a manifest file');
    expect(r.stderr).toContain('hint: pass a manifest file with -f (this folder has no hendrix.yaml)');
  });
});

describe('a folder with hendrix.yaml.example and no hendrix.yaml', () => {
  it('says how to use the example: copy it, or run with -f (check and up)', async () => {
    const dir = project({ 'hendrix.yaml.example': EXAMPLE });
    for (const command of ['check', 'up']) {
      const r = await runCli([command], { cwd: dir });
      expect(r.code, r.stderr).toBe(78);
      expect(r.stderr).toContain('error[HX_ERR_MANIFEST_NOT_FOUND]: manifest file not found: hendrix.yaml');
      expect(r.stderr).toContain(
        'hint: this folder has hendrix.yaml.example: copy it to hendrix.yaml (cp hendrix.yaml.example hendrix.yaml) or run with -f hendrix.yaml.example',
      );
    }
    // both ways out work
    expect((await runCli(['check', '-f', 'hendrix.yaml.example'], { cwd: dir })).code).toBe(0);
    copyFileSync(join(dir, 'hendrix.yaml.example'), join(dir, 'hendrix.yaml'));
    expect((await runCli(['check'], { cwd: dir })).code).toBe(0);
  });

  it('keeps the plain hint when there is no example either', async () => {
    const dir = project({ 'other.yaml': EXAMPLE });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('manifest file not found: hendrix.yaml');
    expect(r.stderr).not.toContain('hendrix.yaml.example');
  });
});
