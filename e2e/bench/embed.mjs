// How long `embed()` takes to a drawn report in Chromium on the demo (1,000,000 rows), through
// the example host app on another site: from the call to the SDK's `rendered` event, median of
// several page loads; beside it, the portal viewer's navigation-to-drawn for the same report
// in the same run; and the SDK's weight.
//
//   node bench/embed.mjs             (VITRINE_BIN: the vitrine binary, release build advised)

import { statSync } from 'node:fs';
import { join } from 'node:path';

import { startHostApp } from '../support/host-app.mjs';
import { ACCOUNTS, launchBrowser, repoRoot, startDemoServer } from '../support/server.mjs';
import { signIn } from '../support/portal.mjs';
import { apiSession } from '../support/viewer.mjs';

const RUNS = 10;
const REPORT = 'Regional performance';
const server = await startDemoServer();
const browser = await launchBrowser();
let host;
try {
  const admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
  const reportId = (await admin.get('/api/v1/reports')).body.find((r) => r.name === REPORT).id;
  const key = await admin.post('/api/v1/api-keys', { name: 'bench', scope: 'embed' });
  host = await startHostApp({ vitrineUrl: server.baseUrl, embedKey: key.body.key, reportId });
  await admin.patch('/api/v1/settings', { embedAllowedOrigins: [host.url] });

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${host.url}/`);
  await page.selectOption('select[name="user"]', 'bob');
  await Promise.all([page.waitForURL(`${host.url}/`), page.click('button[type="submit"]')]);
  const embedTimes = [];
  for (let run = 0; run < RUNS + 2; run += 1) {
    await page.goto(`${host.url}/`);
    await page.waitForFunction(() => window.vitrineEvents?.some((e) => e.name === 'rendered'));
    // A fresh embed() in the loaded page, timed inside the page.
    const ms = await page.evaluate(
      ({ url, reportId: id }) =>
        new Promise((resolve) => {
          window.vitrineReport.destroy();
          const element = document.getElementById('report');
          import(`${url}/sdk/v1/vitrine-embed.js`).then(({ embed }) => {
            const started = performance.now();
            const report = embed(element, {
              url,
              reportId: id,
              fetchToken: async () => (await fetch('/api/vitrine-token', { method: 'POST' })).json(),
            });
            report.on('rendered', () => resolve(performance.now() - started));
          });
        }),
      { url: server.baseUrl, reportId },
    );
    if (run >= 2) embedTimes.push(ms);
  }
  await context.close();

  const viewer = await signIn(browser, server.baseUrl, ACCOUNTS.viewer);
  const viewerTimes = [];
  for (let run = 0; run < RUNS + 2; run += 1) {
    const started = performance.now();
    await viewer.page.goto(`/reports/${reportId}`);
    await viewer.page.waitForSelector('#viewer[data-loaded]');
    await viewer.page.waitForFunction(() => document.querySelectorAll('.visual.loading').length === 0);
    if (run >= 2) viewerTimes.push(performance.now() - started);
  }
  await viewer.context.close();

  const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
  const sdk = statSync(join(repoRoot, 'sdk', 'vitrine-embed.js')).size;
  const types = statSync(join(repoRoot, 'sdk', 'vitrine-embed.d.ts')).size;
  console.log(`| ${REPORT}, embed() to the SDK's rendered event (median of ${RUNS}) | ${median(embedTimes).toFixed(0)} ms |`);
  console.log(`| fastest / slowest | ${Math.min(...embedTimes).toFixed(0)} ms / ${Math.max(...embedTimes).toFixed(0)} ms |`);
  console.log(`| peer in the same run: the portal viewer, navigation to every visual drawn (median) | ${median(viewerTimes).toFixed(0)} ms |`);
  console.log(`| ratio embed / portal viewer | ${(median(embedTimes) / median(viewerTimes)).toFixed(2)} |`);
  console.log(`| vitrine-embed.js, uncompressed | ${(sdk / 1024).toFixed(1)} KB (${sdk} bytes) |`);
  console.log(`| vitrine-embed.d.ts | ${(types / 1024).toFixed(1)} KB |`);
} finally {
  await host?.stop();
  await browser.close();
  await server.stop();
}
