import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusJson } from '../../src/admin/types.js';
import { ROOT, spawnCli, type CliProcess } from '../helpers/cli.js';
import { needCommand } from '../helpers/system-command.js';

// Debian's chromium, driven by playwright-core (which never downloads a browser of its own).
const CHROMIUM = '/usr/bin/chromium';
const FIXTURE = join(ROOT, 'test/admin/fixtures/dashboard/hendrix.yaml');
// where the closing note's screenshots go (HENDRIX_SCREENSHOTS=<folder> puts them elsewhere)
const SHOTS = process.env['HENDRIX_SCREENSHOTS'] ?? '/work';
// what the functions run inside the page use (the project compiles without the DOM library)
interface PageNode {
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageNode | null;
  readonly textContent: string | null;
}
declare const document: { querySelector(selector: string): PageNode | null; readonly body: unknown; readonly documentElement: { readonly scrollWidth: number } };
declare function getComputedStyle(el: unknown): { readonly stroke: string; readonly backgroundColor: string };

const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');

/** Where `flaky` is declared in the fixture: the crash's error points there. */
function declaredAt(name: string): string {
  const lines = readFileSync(FIXTURE, 'utf8').split('\n');
  const line = lines.findIndex((l) => l === `  ${name}:`) + 1;
  return `hendrix.yaml:${line}:3`;
}

/** The second manifest layer: the TCP admin listener with its dashboard, and the field the reload edits. */
const layer = (token: string, keepAlive: string) => `version: 1
admin:
  listen: 127.0.0.1:0
  token: ${token}
  dashboard: true
services:
  web:
    keepAliveTimeout: ${keepAlive}
`;

describe.runIf(needCommand('chromium'))('the dashboard in a real browser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hendrix-dashboard-'));
  const edits = join(dir, 'hendrix.edits.yaml');
  const token = randomBytes(18).toString('base64url');
  let hendrix: CliProcess;
  let dashboard: CliProcess;
  let browser: Browser;
  let pageUrl: string;
  let adminOrigin: string;

  /** GET /status through the `hendrix dashboard` proxy, as a tool would (Bearer token). */
  const status = async (): Promise<StatusJson> => {
    const url = new URL(pageUrl);
    const res = await fetch(new URL('/status', url), { headers: { authorization: `Bearer ${url.searchParams.get('token')}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as StatusJson;
  };

  beforeAll(async () => {
    writeFileSync(edits, layer(token, '5s'));
    hendrix = spawnCli(['up', '-f', FIXTURE, '-f', edits]);
    await hendrix.waitForLog(isReady, 15_000);
    dashboard = spawnCli(['dashboard', '-f', FIXTURE]);
    pageUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no dashboard URL; stderr: ${dashboard.stderr()}`)), 10_000);
      const look = () => {
        const found = /^dashboard: (\S+)$/m.exec(dashboard.stdout());
        if (found) (clearTimeout(timer), dashboard.process.stdout!.off('data', look), resolve(found[1]!));
      };
      dashboard.process.stdout!.on('data', look);
      look();
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    for (const p of [dashboard, hendrix]) {
      if (p && p.process.exitCode === null) {
        p.process.kill('SIGTERM');
        await p.exited();
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const card = (page: Page, name: string) => page.locator(`#services .svc[data-service="${name}"]`);
  const node = (page: Page, name: string) => page.locator(`#graph .node[data-service="${name}"]`);
  const stroke = (page: Page, name: string) => node(page, name).locator('rect').evaluate((el) => getComputedStyle(el).stroke);

  it('through hendrix dashboard: lists the graph, shows a crash within 1 s, restarts, and reloads after showing the diff', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 }, colorScheme: 'light' });
    await page.goto(pageUrl);
    await page.locator('#live', { hasText: 'live' }).waitFor();
    // every service of the fixture, in start order, as a card and as a node; the edges hub → web, flaky → web
    await expect.poll(() => page.locator('#services .svc').evaluateAll((els) => els.map((e) => e.getAttribute('data-service')))).toEqual(['web', 'hub', 'flaky']);
    expect(await page.locator('#graph .node').count()).toBe(3);
    expect(await page.locator('#graph .edge').count()).toBe(2);
    for (const name of ['web', 'hub', 'flaky']) {
      await expect.poll(() => card(page, name).getAttribute('data-state')).toBe('ready');
      expect(await stroke(page, name)).toBe('rgb(26, 127, 55)'); // ready: green
    }
    expect(await card(page, 'hub').locator('dd[data-figure="pubsub_connections"]').textContent()).toBe('0');

    // requests to web, until its req/s and p99 (from two one-second samples) show them
    const st = await status();
    const web = st.services.find((s) => s.name === 'web')!.address!;
    let load = true;
    const traffic = (async () => {
      while (load) await (await fetch(web)).text();
    })();
    try {
      const reqs = card(page, 'web').locator('dd[data-figure="http_requests_total"]');
      await expect.poll(() => reqs.textContent(), { timeout: 5_000 }).toMatch(/^(?!0\.0$)\d[\d.,]*$/);
      expect(await card(page, 'web').locator('dd[data-figure="http_request_duration_seconds"]').textContent()).toMatch(/^(> )?[\d.]+ m?s$/);
    } finally {
      load = false;
      await traffic;
    }

    // the crash: flaky turns red with its error and place within 1 s (the one timing bound)
    const flaky = st.services.find((s) => s.name === 'flaky')!.address!;
    const crashedAt = Date.now(); // just before: the crash comes with the answer
    expect(await (await fetch(`${flaky}/crash`)).text()).toBe('crashing\n');
    await page.waitForFunction(
      () => {
        const el = document.querySelector('#services .svc[data-service="flaky"]');
        const n = document.querySelector('#graph .node[data-service="flaky"]');
        return el?.getAttribute('data-state') === 'failed' && n?.getAttribute('data-state') === 'failed' && el.querySelector('.last.now')?.textContent?.includes('HX_ERR_SERVICE_CRASHED');
      },
      undefined,
      { timeout: Math.max(1, 1000 - (Date.now() - crashedAt)) },
    );
    expect(await stroke(page, 'flaky')).toBe('rgb(207, 34, 46)'); // failed: red
    const error = await card(page, 'flaky').locator('.last').textContent();
    expect(error).toContain('asked to crash by GET /crash');
    expect(error).toContain(declaredAt('flaky'));
    expect(await card(page, 'flaky').locator('.badge').textContent()).toBe('failed'); // in words too
    expect(await card(page, 'web').getAttribute('data-state')).toBe('ready');
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });

    // restart the failed service from its card: the outcome is said, the node turns green
    await page.getByRole('button', { name: 'Restart flaky', exact: true }).click();
    await card(page, 'flaky').locator('.outcome', { hasText: /flaky restarted \(ready after/ }).waitFor();
    await expect.poll(() => node(page, 'flaky').getAttribute('data-state')).toBe('ready');
    expect(await card(page, 'flaky').locator('.last').textContent()).toContain('last error'); // kept, no longer current

    // a service stopped by an operator (as hendrix stop hub does) turns grey and offers Start
    const url = new URL(pageUrl);
    const stopped = await fetch(new URL('/services/hub/stop', url), { method: 'POST', headers: { authorization: `Bearer ${url.searchParams.get('token')}` } });
    expect(stopped.status).toBe(200);
    await expect.poll(() => node(page, 'hub').getAttribute('data-state')).toBe('stopped');
    expect(await stroke(page, 'hub')).toBe('rgb(110, 119, 129)'); // stopped: grey
    expect(await card(page, 'hub').locator('.why').textContent()).toContain('stopped by an operator');
    await page.getByRole('button', { name: 'Start hub', exact: true }).click();
    await card(page, 'hub').locator('.outcome', { hasText: /hub started \(ready after/ }).waitFor();

    // restart web: its dependents follow, and the outcome is said
    await page.getByRole('button', { name: 'Restart web', exact: true }).click();
    await card(page, 'web').locator('.outcome', { hasText: /web restarted \(ready after/ }).waitFor();
    await expect.poll(() => page.locator('#services .svc').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).toEqual(['ready', 'ready', 'ready']);

    // reload: the dry run shows the diff of the edited layer and changes nothing; Apply applies it
    const before = (await status()).instance.fingerprint;
    writeFileSync(edits, layer(token, '4s'));
    await page.getByRole('button', { name: 'Reload…' }).click();
    await page.locator('#reload-panel').waitFor();
    const diff = await page.locator('#reload-diff').textContent();
    expect(diff).toContain('~ web (in place)');
    expect(diff).toContain('keepAliveTimeout: 5000 → 4000');
    expect(diff).toContain('= 2 unchanged: hub, flaky');
    expect(diff).not.toContain(token);
    expect((await status()).instance.fingerprint).toBe(before);
    await page.getByRole('button', { name: 'Apply reload' }).click();
    await page.locator('#reload-outcome', { hasText: /^reloaded in .*web in place/ }).waitFor();
    const after = (await status()).instance.fingerprint;
    expect(after).not.toBe(before);
    await expect.poll(() => page.locator('#fingerprint').textContent()).toBe(after.slice(0, 12));
    expect(await page.locator('#reload-panel').isHidden()).toBe(true);
    await page.close();
  }, 30_000);

  it('on the TCP admin listener: / leads to the page, which runs narrow and dark in one column', async () => {
    const admin = await hendrix.waitForLog((l) => typeof l.admin === 'string', 5_000);
    adminOrigin = String(admin.admin);
    const context = await browser.newContext({ viewport: { width: 380, height: 900 }, colorScheme: 'dark' });
    const page = await context.newPage();
    // the token once in the URL: the listener trades it for a cookie, then / leads to the page
    await page.goto(`${adminOrigin}/dashboard?token=${token}`);
    expect(new URL(page.url()).search).toBe('');
    await page.goto(`${adminOrigin}/`);
    expect(new URL(page.url()).pathname).toBe('/dashboard');
    await page.locator('#live', { hasText: 'live' }).waitFor();
    await expect.poll(() => page.locator('#services .svc').count()).toBe(3);
    await expect.poll(() => card(page, 'flaky').getAttribute('data-state')).toBe('ready');
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(13, 17, 23)');
    expect(await stroke(page, 'web')).toBe('rgb(63, 185, 80)'); // ready, dark palette
    // one column: every card starts at the same x and spans the width; the graph runs top to bottom
    const boxes = await page.locator('#services .svc').evaluateAll((els) => els.map((e) => { const r = e.getBoundingClientRect(); return { x: r.x, width: r.width }; }));
    expect(new Set(boxes.map((b) => Math.round(b.x))).size).toBe(1);
    expect(boxes.every((b) => b.width > 300)).toBe(true);
    const nodes = await page.locator('#graph .node rect').evaluateAll((els) => els.map((e) => Number(e.getAttribute('y'))));
    expect(Math.max(...nodes)).toBeGreaterThan(Math.min(...nodes));
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(380);
    await page.screenshot({ path: join(SHOTS, 'dashboard-narrow-dark.png'), fullPage: true });
    await context.close();
  }, 20_000);
});

describe.runIf(needCommand('chromium'))('the dashboard of a graph in workers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hendrix-dashboard-workers-'));
  const token = randomBytes(18).toString('base64url');
  let hendrix: CliProcess;
  let browser: Browser;

  beforeAll(async () => {
    // web and the hub in two workers; flaky left out (a null deletes a service in a layer)
    writeFileSync(join(dir, 'workers.yaml'), `version: 1\nworkers: 2\nadmin:\n  listen: 127.0.0.1:0\n  token: ${token}\n  dashboard: true\nservices:\n  flaky: null\n`);
    hendrix = spawnCli(['up', '-f', FIXTURE, '-f', join(dir, 'workers.yaml'), '--control', join(dir, 'control.sock')]);
    await hendrix.waitForLog(isReady, 20_000);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    if (hendrix && hendrix.process.exitCode === null) {
      hendrix.process.kill('SIGTERM');
      await hendrix.exited();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists each worker with its pid, state, memory and requests', async () => {
    const origin = String((await hendrix.waitForLog((l) => typeof l.admin === 'string', 5_000)).admin);
    const auth = { authorization: `Bearer ${token}` };
    const status = async () => (await (await fetch(`${origin}/status`, { headers: auth })).json()) as StatusJson;
    const web = (await status()).services.find((s) => s.name === 'web')!.address!;
    for (let i = 0; i < 20; i++) expect(await (await fetch(web)).text()).toBe('ok\n');
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    await page.goto(`${origin}/dashboard?token=${token}`);
    await page.locator('#workers').waitFor();
    const rows = page.locator('#workers-body tr');
    // the workers report their figures to the primary now and then: until all 20 requests are counted
    const sum = async () => (await rows.locator('td:nth-child(5)').allTextContents()).reduce((a, t) => a + Number(t.replace(/,/g, '')), 0);
    await expect.poll(sum, { timeout: 10_000 }).toBe(20);
    const workers = (await status()).instance.workers!;
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-worker')))).toEqual(workers.map((w) => w.id));
    expect(await rows.locator('td:nth-child(2)').allTextContents()).toEqual(workers.map((w) => String(w.pid)));
    expect(await rows.locator('td:nth-child(3)').allTextContents()).toEqual(['ready', 'ready']);
    for (const rss of await rows.locator('td:nth-child(4)').allTextContents()) expect(rss).toMatch(/^\d+\.\d MiB$/);
    await page.close();
  }, 20_000);
});
