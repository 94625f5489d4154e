#!/usr/bin/env node
// Screenshots of the HTML report in headless Chromium (Debian's `chromium`, which the setup step
// installs where it can), as a reader sees it: the whole page at 800 px wide, and again wide.
//
//   node scripts/screenshot-report.mjs [REPORT.html] [OUT_DIR]     (defaults: report/index.html, report)
//
// Writes OUT_DIR/report-800.png and OUT_DIR/report-1400.png and prints their paths. Driven with
// playwright-core (pinned; it downloads no browser: it drives the system's chromium through the
// DevTools protocol), because Chromium's own --screenshot flag captures only the window, not the
// whole page. The browser gets a fresh profile, no network services and no GPU. Where there is no
// chromium it says so in one line and exits 3, which the test turns into a skip (or, under CI, a
// failure).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = process.env.KMEM_CHROMIUM ?? '/usr/bin/chromium';
export const NO_CHROMIUM_EXIT = 3;
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WIDTHS = [800, 1400];

/** Screenshots `reportPath` at each width into `outDir`; returns the PNG paths. */
export async function screenshotReport(reportPath, outDir) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'kmem-chromium-'));
  // launchPersistentContext is how a user data dir is passed (a fresh one, removed afterwards).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    offline: true,
    viewport: { width: WIDTHS[0], height: 900 },
    timeout: 60_000,
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    // Nothing may be fetched: the report is one self-contained file.
    const fetched = [];
    page.on('request', (request) => {
      if (!request.url().startsWith('file:') && !request.url().startsWith('data:')) fetched.push(request.url());
    });
    await page.goto(pathToFileURL(reportPath).href, { waitUntil: 'load' });
    if (fetched.length > 0) throw new Error(`the report fetched ${fetched.join(', ')}: it must be self-contained`);
    mkdirSync(outDir, { recursive: true });
    const paths = [];
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      const path = join(outDir, `report-${width}.png`);
      await page.screenshot({ path, fullPage: true });
      paths.push(path);
    }
    return paths;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const reportPath = resolve(process.argv[2] ?? 'report/index.html');
  const outDir = resolve(process.argv[3] ?? 'report');
  if (!existsSync(CHROMIUM)) {
    process.stderr.write(`screenshot: no Chromium at ${CHROMIUM}: \`npm run setup\` installs Debian's chromium where it can (root, apt), or set KMEM_CHROMIUM\n`);
    process.exit(NO_CHROMIUM_EXIT);
  }
  if (!existsSync(reportPath)) {
    process.stderr.write(`screenshot: no report at ${reportPath}: run \`npm start\` first\n`);
    process.exit(2);
  }
  try {
    for (const path of await screenshotReport(reportPath, outDir)) process.stdout.write(`${path}\n`);
  } catch (error) {
    process.stderr.write(`screenshot: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
    process.exit(1);
  }
}
