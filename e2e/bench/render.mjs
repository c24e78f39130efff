// How long a report page takes to render in Chromium on the demo: from navigation to every
// visual drawn with data, median of several loads; and the weight of the viewer's code.
//
//   node bench/render.mjs            (VITRINE_BIN: the vitrine binary, release build advised)

import { statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { ACCOUNTS, launchBrowser, repoRoot, startDemoServer } from '../support/server.mjs';
import { signIn } from '../support/portal.mjs';

const RUNS = 10;
const server = await startDemoServer();
const browser = await launchBrowser();
try {
  const { context, page } = await signIn(browser, server.baseUrl, ACCOUNTS.viewer);
  const reports = await page.evaluate(async () => (await (await fetch('/api/v1/reports')).json()));
  const report = reports.find((r) => r.name === 'Sales overview');
  const times = [];
  for (let run = 0; run < RUNS + 2; run += 1) {
    const started = performance.now();
    await page.goto(`/reports/${report.id}`);
    await page.waitForSelector('#viewer[data-loaded]');
    await page.waitForFunction(() => document.querySelectorAll('.visual.loading').length === 0);
    if (run >= 2) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const viewerDir = join(repoRoot, 'web', 'viewer');
  const files = readdirSync(viewerDir).filter((f) => f.endsWith('.js') || f.endsWith('.css'));
  const viewerBytes = files.reduce((sum, f) => sum + statSync(join(viewerDir, f)).size, 0);
  const portalCss = statSync(join(repoRoot, 'web', 'portal.css')).size;
  console.log(`| Sales overview, navigation to every visual drawn (median of ${RUNS}) | ${times[Math.floor(RUNS / 2)].toFixed(0)} ms |`);
  console.log(`| fastest / slowest | ${times[0].toFixed(0)} ms / ${times[times.length - 1].toFixed(0)} ms |`);
  console.log(`| viewer JavaScript and CSS (${files.length} files, uncompressed) | ${(viewerBytes / 1024).toFixed(1)} KB |`);
  console.log(`| with the portal stylesheet the page also loads | ${((viewerBytes + portalCss) / 1024).toFixed(1)} KB |`);
  await context.close();
} finally {
  await browser.close();
  await server.stop();
}
