import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOf, spawnCli, type CliProcess } from '../helpers/cli.js';
import { startCutProxy, type CutProxy } from '../helpers/cut-proxy.js';
import { HubClient } from '../helpers/pubsub/test-client.js';
import { needCommand } from '../helpers/system-command.js';

// Debian's chromium, driven by playwright-core (which never downloads a browser of its own).
const CHROMIUM = '/usr/bin/chromium';
// HENDRIX_SCREENSHOTS=<folder> keeps a screenshot of each state, to look at the page
const shots = process.env['HENDRIX_SCREENSHOTS'];
const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');

describe.runIf(needCommand('chromium'))('examples/chat in a real browser', () => {
  let hendrix: CliProcess;
  let proxy: CutProxy;
  let browser: Browser;
  let hubUrl: string;

  beforeAll(async () => {
    hendrix = spawnCli(['up', '-f', 'examples/chat/hendrix.yaml'], { env: { PORT: '0' } });
    const ready = await hendrix.waitForLog(isReady, 15_000);
    const web = new URL(addressOf(ready, 'web'));
    hubUrl = `ws://127.0.0.1:${web.port}/hub`;
    proxy = await startCutProxy(Number(web.port));
    browser = await chromium.launch({ executablePath: CHROMIUM });
    if (shots) mkdirSync(shots, { recursive: true });
  }, 20_000);

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    if (hendrix && hendrix.process.exitCode === null) {
      hendrix.process.kill('SIGTERM');
      await hendrix.exited();
    }
  });

  const texts = (page: Page) => page.locator('#log .msg .text').allTextContents();
  const shot = async (page: Page, name: string) => {
    if (shots) await page.screenshot({ path: join(shots, `${name}.png`) });
  };
  const say = async (page: Page, text: string) => {
    await page.fill('#say input[name=text]', text);
    await page.press('#say input[name=text]', 'Enter');
  };

  it('shows the history after a reload, queues what is typed offline, counts the reconnect down and delivers once', async () => {
    const page = await browser.newPage({ viewport: { width: 820, height: 560 } });
    await page.goto(`${proxy.url}/`);
    await page.fill('#join input[name=user]', 'ada');
    await page.press('#join input[name=user]', 'Enter');
    await page.locator('#log .msg', { hasText: 'welcome, ada!' }).waitFor();
    await say(page, 'first');
    await say(page, 'second');
    await page.locator('#log .msg', { hasText: 'second' }).waitFor();
    expect(await page.locator('#outbox li').count()).toBe(0);

    // a reload starts a fresh page: it shows what the hub keeps, not an empty room
    await page.reload();
    await page.locator('#log .note', { hasText: 'the last 3 messages' }).waitFor();
    expect(await texts(page)).toEqual(['welcome, ada!', 'first', 'second']);
    await expect.poll(() => page.textContent('#status')).toBe('live');
    await shot(page, '1-after-reload');

    // the network drops: the page says so and counts the reconnect down
    proxy.cut();
    await page.locator('#status', { hasText: /offline — reconnecting in \d+ s/ }).waitFor();
    await expect.poll(() => page.isVisible('#banner')).toBe(true);
    const other = await HubClient.connect(hubUrl);
    await other.request({ type: 'subscribe', topic: 'chat.lobby' });
    expect(await other.request({ type: 'publish', topic: 'chat.lobby', data: { user: 'bob', text: 'said while ada was away' } })).toMatchObject({ type: 'ack' });
    await say(page, 'typed while offline');
    const queued = page.locator('#outbox li', { hasText: 'typed while offline' });
    await expect.poll(() => queued.getAttribute('data-state')).toBe('offline');
    expect(await queued.textContent()).toContain('queued — will be sent when the connection is back');
    await page.locator('#banner-text', { hasText: '1 message waiting to be sent' }).waitFor();
    // the countdown moves: the second attempt (1 s after the cut) fails and waits 2 s, shown as 2 then 1
    await page.locator('#status', { hasText: 'reconnecting in 2 s' }).waitFor({ timeout: 10_000 });
    await page.locator('#status', { hasText: 'reconnecting in 1 s' }).waitFor({ timeout: 10_000 });
    await shot(page, '2-offline');

    // a reload while offline keeps the queued message (the page itself still loads)
    await page.reload();
    await page.locator('#outbox li', { hasText: 'typed while offline' }).waitFor();
    await page.locator('#status', { hasText: 'reconnecting in' }).waitFor({ timeout: 10_000 });

    // the network comes back: the missed message is replayed, the queued one is sent, once
    proxy.restore();
    await page.locator('#log .msg', { hasText: 'typed while offline' }).waitFor({ timeout: 15_000 });
    await page.locator('#log .msg', { hasText: 'said while ada was away' }).waitFor();
    expect(await page.locator('#outbox li').count()).toBe(0);
    expect(await page.textContent('#status')).toBe('live');
    expect(await page.isVisible('#banner')).toBe(false);

    // the hub takes a message but its ack never reaches the page before the line drops: the
    // page cannot know; after the reconnect the replay shows it arrived, so it is not sent again
    proxy.stall();
    await say(page, 'sent as the line stalled');
    await other.next((f) => f.type === 'message' && (f['data'] as { text: string }).text === 'sent as the line stalled');
    const stalled = page.locator('#outbox li', { hasText: 'sent as the line stalled' });
    expect(await stalled.getAttribute('data-state')).toBe('sending');
    proxy.cut();
    await expect.poll(() => stalled.getAttribute('data-state')).toBe('unconfirmed');
    proxy.restore();
    await page.locator('#log .msg', { hasText: 'sent as the line stalled' }).waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('#outbox li').count()).toBe(0);

    // a send the hub refuses is shown, with retry and discard
    // past the schema's maxLength (set as a value, the input's maxlength does not apply)
    await page.evaluate("document.querySelector('#say input[name=text]').value = 'x'.repeat(600)");
    await page.press('#say input[name=text]', 'Enter');
    const failed = page.locator('#outbox li.failed');
    await failed.waitFor();
    expect(await failed.textContent()).toContain('not sent: invalid_data');
    await shot(page, '3-send-failed');
    await failed.locator('button', { hasText: 'discard' }).click();
    await expect.poll(() => page.locator('#outbox li').count()).toBe(0);

    // the hub's history holds each message exactly once (no resend duplicated one)
    const reader = await HubClient.connect(hubUrl);
    await reader.request({ type: 'subscribe', topic: 'chat.lobby', since: '0:0' });
    const history = reader.messages('chat.lobby').map((m) => (m['data'] as { text: string }).text);
    expect(history).toEqual(['welcome, ada!', 'first', 'second', 'said while ada was away', 'typed while offline', 'sent as the line stalled']);
    other.close();
    reader.close();
    await page.close();
  }, 30_000);
});
