import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { statusUntil, useRunningGraphs } from '../helpers/running-graph.js';

/** `hendrix status` of a graph served by worker processes: the workers table. */
const graphs = useRunningGraphs();

const MANIFEST = `version: 1
workers: 2
services:
  web:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
`;

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('hendrix status with workers', () => {
  it('shows each worker process (pid, state, memory, requests, restarts) under the services', async () => {
    const { dir, up } = await graphs.start(MANIFEST);
    const first = await statusUntil(dir, (s) => (s.instance.workers ?? []).filter((w) => w.state === 'ready').length === 2);
    const address = first.services.find((s) => s.name === 'web')!.address!;
    for (let i = 0; i < 20; i++) expect(await fetchText(address)).toMatch(/^hello from \d+$/);
    // the workers report their figures to the primary: wait until all 20 requests are counted
    const status = await statusUntil(dir, (s) => (s.instance.workers ?? []).reduce((sum, w) => sum + w.requests, 0) >= 20);
    expect(status.instance.pid).toBe(up.process.pid);
    const text = await runCli(['status'], { cwd: dir });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/ · 2 workers/);
    expect(text.stdout).toMatch(/^WORKER\s+PID\s+STATE\s+RSS\s+REQUESTS\s+RESTARTS$/m);
    const rows = [...text.stdout.matchAll(/^(\S+)\s+(\d+)\s+ready\s+\d+ [kMG]B\s+(\d+)\s+0$/gm)];
    expect(rows.map((r) => Number(r[2])).sort()).toEqual(status.instance.workers!.map((w) => w.pid).sort());
    expect(rows.reduce((sum, r) => sum + Number(r[3]), 0)).toBeGreaterThanOrEqual(20);
    for (const line of text.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    const stop = await runCli(['stop'], { cwd: dir });
    expect(stop.stdout).toBe('stopped\n');
    expect(await up.exited()).toBe(0);
  });
});
