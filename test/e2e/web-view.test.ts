// The web view in a real browser: playwright-core drives Debian's chromium (`.ci/run` installs it)
// against `dag serve` on a free port. Register a workflow on the page, submit a task, answer its
// external work from the page, watch it succeed, keep a screenshot.
//
// The screenshot goes to test/e2e/__screenshots__/ (ignored by git) on every run, and to
// docs/web-view.png (the README's picture) with UPDATE_SCREENSHOTS=1 or when that file is missing.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DagServer } from '../../lib/local/serve.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
const SCREENSHOT_DIR = 'test/e2e/__screenshots__';
const README_SCREENSHOT = 'docs/web-view.png';

// In CI a missing browser is a broken setup, not a reason to skip.
if (!existsSync(CHROMIUM) && process.env.CI)
  throw new Error(`No chromium at ${CHROMIUM}; .ci/run installs it.`);

const WORKFLOW = `name: clip-review
description: Probe a clip, transcode its slices in parallel, wait for a reviewer, publish.
input:
  type: object
  required: [items]
  properties:
    items: { type: array, items: { type: number } }
nodes:
  begin: { type: start, next: probe }
  probe: { type: sync, operator: test/echo, input: { items: $.input.items }, next: route }
  route:
    type: router
    routes:
      - when: "input.fast == true"
        next: publish
    default: transcode
  transcode:
    type: parallel
    items: $.nodes.probe.echo.items
    maxConcurrency: 2
    node: { type: sync, operator: test/sleep, input: { ms: 150, value: $.item } }
    next: review
  review: { type: async, via: queue, queue: reviews, timeout: 600, next: publish }
  publish: { type: sync, operator: test/flaky, input: { failures: 1 }, retry: { maxAttempts: 2, interval: 1 }, next: done }
  done: { type: end }
`;

let server: DagServer;
let context: BrowserContext;
let page: Page;
let profile: string;

describe.skipIf(!existsSync(CHROMIUM))('web view in chromium', () => {
  beforeAll(async () => {
    // Retry waits as written (1 s, full jitter), so the retried attempt stands apart on the timeline.
    server = await DagServer.start({ port: 0, operatorsDir: 'test/fixtures/operators' });
    profile = mkdtempSync(join(tmpdir(), 'dag-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 1000 },
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('registers a workflow, runs a task, answers its callback and shows it succeed', async () => {
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));

    await page.goto(`${server.url}/`);
    await page.fill('#workflow-source', WORKFLOW);
    await page.click('#register-workflow');
    await page.waitForURL(/#\/workflows\/clip-review$/);
    await expect.poll(() => page.locator('#business-dag svg [data-nodes="transcode"]').count()).toBe(1);
    expect(await page.locator('#execution-plan svg .shape-map').count()).toBe(1);
    expect(await page.locator('[data-workflow="clip-review"]').count()).toBe(1);

    await page.fill('#task-input', JSON.stringify({ items: [1, 2, 3, 4, 5, 6] }));
    await page.click('#submit-task');
    await page.waitForURL(/#\/tasks\//);

    // The reviewer's work waits for a callback: answer it from the page.
    const waiting = page.locator('[data-waiting] [data-callback="SUCCEEDED"]');
    await waiting.waitFor({ timeout: 20_000 });
    expect(await page.locator('#business-dag [data-nodes="review"]').getAttribute('data-status')).toBe(
      'WAITING',
    );
    expect(await page.locator('#business-dag [data-nodes="transcode"] .count').textContent()).toBe('6/6');
    await page.fill('[data-waiting] textarea', JSON.stringify({ approved: true, reviewer: 'ana' }));
    await waiting.click();

    await page.locator('#task-status [data-status="SUCCEEDED"]').waitFor({ timeout: 20_000 });
    const statusOf = (node: string) =>
      page.locator(`#business-dag [data-nodes="${node}"]`).getAttribute('data-status');
    for (const node of ['begin', 'probe', 'route', 'transcode', 'review', 'publish', 'done'])
      expect(await statusOf(node), node).toBe('SUCCEEDED');
    expect(await page.locator('#gantt [data-trace]').count()).toBe(1 + 6 + 2);
    expect(await page.locator('#gantt [data-trace].FAILED').count()).toBe(1);
    expect(await page.locator('#task-output').textContent()).toContain('"reviewer": "ana"');
    expect(problems).toEqual([]);

    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const shot = await page.screenshot({ fullPage: true, path: join(SCREENSHOT_DIR, 'web-view.png') });
    if (process.env.UPDATE_SCREENSHOTS === '1' || !existsSync(README_SCREENSHOT)) {
      mkdirSync('docs', { recursive: true });
      await page.screenshot({ fullPage: true, path: README_SCREENSHOT });
    }
    expect(shot.byteLength).toBeGreaterThan(10_000);
  });
});
