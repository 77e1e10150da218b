import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';

describe('hendrix check', () => {
  it('exits 0 on a valid manifest', async () => {
    const r = await runCli(['check', '-f', 'hendrix.yaml.example']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('start order: web');
  });

  it('exits 78 with every problem, as text and as JSON', async () => {
    const args = ['check', '-f', 'hendrix.yaml.example', '--set', 'services.web.lisen=1', '--set', 'services.web.dependsOn=[ghost]'];
    const text = await runCli(args);
    expect(text.code).toBe(78);
    expect(text.stderr).toContain('HX_ERR_UNKNOWN_KEY');
    expect(text.stderr).toContain('HX_ERR_UNKNOWN_REFERENCE');
    expect(text.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
    const json = await runCli([...args, '--format', 'json']);
    expect(json.code).toBe(78);
    const report = JSON.parse(json.stdout) as { ok: boolean; diagnostics: { code: string; file: string; line: number; column: number; path: string; hint: string }[] };
    expect(report.ok).toBe(false);
    const codes = report.diagnostics.map((d) => d.code);
    expect(codes).toContain('HX_ERR_UNKNOWN_KEY');
    expect(codes).toContain('HX_ERR_UNKNOWN_REFERENCE');
    for (const d of report.diagnostics) {
      expect(d.file).toBeTruthy();
      expect(d.line).toBeGreaterThan(0);
      expect(d.column).toBeGreaterThan(0);
      expect(d.hint).toBeTruthy();
    }
  });

  it('exits 64 on usage errors and 78 on a missing manifest', async () => {
    expect((await runCli(['check', '--bogus'])).code).toBe(64);
    expect((await runCli(['nope'])).code).toBe(64);
    const missing = await runCli(['check', '-f', 'does-not-exist.yaml']);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain('HX_ERR_MANIFEST_NOT_FOUND');
  });

  it('prints help for every command', async () => {
    for (const command of ['up', 'check', 'config', 'graph', 'schema']) {
      const r = await runCli([command, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`hendrix ${command}`);
    }
    const main = await runCli(['--help']);
    expect(main.stdout).toContain('Commands:');
  });
});

describe('hendrix graph', () => {
  it('prints the DAG and the start order as text, mermaid and dot', async () => {
    const text = await runCli(['graph', '-f', 'examples/custom-kind/hendrix.yaml']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/echo\s+\.\/echo-kind\.mjs\s+→ web \(web\)/);
    expect(text.stdout).toContain('start order: web → echo');
    const mermaid = await runCli(['graph', '-f', 'examples/custom-kind/hendrix.yaml', '--format', 'mermaid']);
    expect(mermaid.stdout).toContain('graph TD');
    expect(mermaid.stdout).toContain('echo -->|web| web');
    const dot = await runCli(['graph', '-f', 'examples/custom-kind/hendrix.yaml', '--format', 'dot']);
    expect(dot.stdout).toContain('"echo" -> "web" [label="web"];');
  });
});

describe('hendrix config', () => {
  it('explains which layer set a value, winner last', async () => {
    const r = await runCli(['config', '-f', 'examples/overlay/hendrix.yaml', '--env', 'production', '--explain', 'services.web.listen'], {
      env: { PORT: '9999' },
    });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('services.web.listen');
    expect(lines[1]).toMatch(/base\s+.*examples\/overlay\/hendrix\.yaml:\d+:\d+/);
    expect(lines[2]).toMatch(/→ env\s+.*examples\/overlay\/hendrix\.production\.yaml:\d+:\d+.*\(wins\)/);
  });

  it('explains a --set override as the winner', async () => {
    const r = await runCli(['config', '-f', 'hendrix.yaml.example', '--set', 'services.web.listen=1234', '--explain', 'services.web.listen']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/→ set\s+--set:1:\d+.*\(wins\)/);
  });

  it('prints the resolved manifest with secrets redacted', async () => {
    const r = await runCli(['config', '-f', 'hendrix.yaml.example', '--set', 'services.hub.auth.tokens[0].token=${API_TOKEN}', '--format', 'json'], {
      env: { API_TOKEN: 'hunter2-hunter2' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('hunter2');
    const manifest = JSON.parse(r.stdout) as { services: { web: { startTimeout: number }; hub: { auth: { tokens: { token: string }[] } } } };
    expect(manifest.services.hub.auth.tokens[0]?.token).toBe('[redacted]');
    expect(manifest.services.web.startTimeout).toBe(30_000);
  });
});

describe('hendrix schema', () => {
  it('prints the checked-in JSON Schema', async () => {
    const r = await runCli(['schema']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(`${ROOT}schemas/hendrix.schema.json`, 'utf8')));
  });
});
