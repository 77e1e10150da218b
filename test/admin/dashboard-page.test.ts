import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { dashboardRoute } from '../../src/admin/dashboard.js';
import { dashboardPage } from '../../src/admin/dashboard-page.js';
import type { ControlStreamResult } from '../../src/runtime/control-routes.js';

const sha = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** Serves the page through the route handler and collects what it writes. */
async function serve(): Promise<{ result: ControlStreamResult; body: string }> {
  const result = (await dashboardRoute()({ query: new URLSearchParams(), params: {}, body: undefined, signal: new AbortController().signal })) as ControlStreamResult;
  let body = '';
  const res = { end: (chunk: Buffer) => void (body = chunk.toString('utf8')), writableEnded: false } as unknown as ServerResponse;
  await result.stream(res, new AbortController().signal);
  return { result, body };
}

describe('the dashboard page', () => {
  it('is small, self-contained and its script parses', () => {
    const page = dashboardPage();
    expect(Buffer.byteLength(page.html)).toBeLessThan(25 * 1024);
    // a syntax error in the script as a string would only show in a browser
    expect(() => new Function(page.script)).not.toThrow();
    // no CDN, no absolute URL: it works offline and behind any prefix
    expect(page.html).not.toMatch(/\b(?:src|href)="(?:https?:)?\/\//);
    expect(page.script).not.toMatch(/fetch\('\/|EventSource\('\//);
    expect(page.html).toContain(`<script>${page.script}</script>`);
    expect(page.html).toContain(`<style>${page.style}</style>`);
  });

  it('is served as HTML, never cached, under a CSP that allows exactly its inline script and style', async () => {
    const { result, body } = await serve();
    const page = dashboardPage();
    expect(result.status).toBe(200);
    expect(body).toBe(page.html);
    const headers = result.headers!;
    expect(headers['content-type']).toBe('text/html; charset=utf-8');
    expect(headers['cache-control']).toBe('no-store');
    expect(headers['content-length']).toBe(String(Buffer.byteLength(body)));
    const csp = Object.fromEntries(headers['content-security-policy']!.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));
    expect(csp).toMatchObject({
      'default-src': "'self'",
      'script-src': sha(page.script),
      'style-src': sha(page.style),
      'connect-src': "'self'",
      'frame-ancestors': "'none'",
    });
    expect(headers['content-security-policy']).not.toContain('unsafe');
  });
});
