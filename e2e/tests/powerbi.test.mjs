// A report of Power BI in the viewer, through the real powerbi-client library and the
// stand-in's report page served under https://app.powerbi.com: left open with the timed update
// on across three token lifetimes it never shows TokenExpired and keeps its filter; an expired
// token is replaced with setAccessToken (no reload, its page kept); a paused capacity shows
// "Paused to save cost" and the report comes back by itself; access taken back removes the
// report within a second.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ACCOUNTS, launchBrowser, screenshotPath, startDemoServer } from '../support/server.mjs';
import { signIn } from '../support/portal.mjs';
import { routePowerBi, startStandin } from '../support/standin.mjs';
import { advanceServer, apiSession, settle, trackRequests } from '../support/viewer.mjs';

const TIMEOUT = { timeout: 120_000 };
const SECRET = 'e2e~stand-in.secret';
const WORKSPACE = 'f089354e-8366-4e18-aea3-4cb4a3a50b48';
const SALES = '5b218778-e7a5-4d73-8187-f10824047715';

describe('A Power BI report in the viewer', () => {
  let browser;
  let standin;
  let server;
  let admin;
  let report;
  let viewer;

  before(async () => {
    browser = await launchBrowser();
    standin = await startStandin({ clientSecret: SECRET });
    server = await startDemoServer({ config: standin.configFile, testClock: true });
    admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
    const connected = await admin.put('/api/v1/powerbi', {
      tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      clientId: '6731de76-14a6-49ae-97bc-6eba6914391e',
      clientSecret: SECRET,
    });
    assert.equal(connected.status, 200, JSON.stringify(connected.body));
    const imported = await admin.post('/api/v1/reports', { name: 'Contoso sales', powerbi: { workspaceId: WORKSPACE, reportId: SALES } });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    report = imported.body.id;
    viewer = (await admin.get('/api/v1/users')).body.find((u) => u.email === ACCOUNTS.viewer);
    assert.equal((await admin.put(`/api/v1/reports/${report}/access/users/${viewer.id}`)).status, 204);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await standin?.stop();
  });

  /** Opens the report as the viewer; answers the page and the report's frame once it shows. */
  async function openAsViewer({ clock = false } = {}) {
    const { context, page } = await signIn(browser, server.baseUrl, ACCOUNTS.viewer);
    await routePowerBi(context, standin.url);
    if (clock) await page.clock.install({ time: Date.now() });
    const requests = trackRequests(page);
    await page.goto(`/reports/${report}`);
    const frame = page.frameLocator('.powerbi-frame iframe');
    await frame.locator('#report[data-state="shown"]').waitFor({ timeout: 15_000 });
    return { context, page, frame, requests };
  }

  test('left open with the timed update on across three token lifetimes, it never shows TokenExpired and keeps its filter', TIMEOUT, async () => {
    const settings = await admin.patch('/api/v1/settings', { tokenLifetimeMinutes: 10, tokenUpdateEveryMinutes: 8 });
    assert.equal(settings.status, 200, JSON.stringify(settings.body));
    const { context, page, frame, requests } = await openAsViewer({ clock: true });
    const shown = frame.locator('#report');
    await frame.locator('#visual span[title="East"]').click();
    assert.equal(await shown.getAttribute('data-filter'), 'East');
    // Eight minutes at a time on every clock (the server's, Power BI's and the page's): each
    // step ends with the timed update, four of them over 32 minutes of 10-minute tokens.
    for (let step = 1; step <= 4; step += 1) {
      await advanceServer(server.baseUrl, 8 * 60);
      assert.equal((await standin.control('POST', 'clock', { seconds: 8 * 60 })).status, 204);
      await page.clock.runFor(8 * 60_000);
      await settle(page, requests);
      await frame.locator(`#report[data-token-changes="${step}"][data-state="shown"]`).waitFor({ timeout: 10_000 });
    }
    const viewerRoot = page.locator('#viewer');
    assert.equal(await viewerRoot.getAttribute('data-powerbi-error'), null, 'no error from the report, TokenExpired included');
    assert.equal(await viewerRoot.getAttribute('data-last-refresh'), 'timed update');
    assert.equal(await shown.getAttribute('data-loads'), '1', 'never reloaded');
    assert.equal(await shown.getAttribute('data-filter'), 'East', 'the filter set before the refreshes is still set');
    assert.ok(await page.locator('.viewer-notice').isHidden(), 'no notice');
    await context.close();
  });

  test("an expired token is replaced at once, a paused capacity waits and recovers, and access taken back removes the report", TIMEOUT, async () => {
    // Tokens of five minutes and no timed update, so that Power BI's clock can outrun them.
    const settings = await admin.patch('/api/v1/settings', { tokenLifetimeMinutes: 5, tokenUpdateEveryMinutes: null });
    assert.equal(settings.status, 200, JSON.stringify(settings.body));
    const { context, page, frame } = await openAsViewer();
    assert.equal(await frame.locator('#name').textContent(), 'Sales Overview');
    assert.equal(await page.locator('.viewer-title').textContent(), 'Contoso sales');
    const firstToken = await frame.locator('#report').getAttribute('data-token-id');
    const issued = (await standin.control('GET', 'embed-tokens')).body;
    assert.equal(issued.at(-1).tokenId, firstToken, 'the report holds the token Vitrine asked Power BI for');
    await page.screenshot({ path: screenshotPath('powerbi-report') });

    // The reader moves to the second page; then Power BI's clock passes the token's end.
    await frame.getByRole('button', { name: 'Details' }).click();
    await frame.locator('#report[data-page="ReportSection2"]').waitFor();
    assert.equal((await standin.control('POST', 'clock', { seconds: 6 * 60 })).status, 204);
    await page.locator('#viewer[data-last-refresh="expired"]').waitFor({ state: 'attached', timeout: 10_000 });
    await frame.locator('#report[data-token-changes="1"][data-state="shown"]').waitFor({ timeout: 10_000 });
    const shownReport = frame.locator('#report');
    assert.notEqual(await shownReport.getAttribute('data-token-id'), firstToken, 'a new token');
    assert.equal(await shownReport.getAttribute('data-loads'), '1', 'handed with setAccessToken, not a reload');
    assert.equal(await shownReport.getAttribute('data-page'), 'ReportSection2', 'the page is kept');

    // Someone pauses the capacity in the Azure portal: the report says so, then comes back.
    assert.equal((await standin.control('PUT', 'capacities/contosoembedded/state', { state: 'Paused' })).status, 204);
    const banner = page.locator('.capacity-banner');
    await banner.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await banner.textContent(), /Paused to save cost/);
    await page.screenshot({ path: screenshotPath('powerbi-paused') });
    assert.equal((await standin.control('PUT', 'capacities/contosoembedded/state', { state: 'Running' })).status, 204);
    await banner.waitFor({ state: 'hidden', timeout: 15_000 });
    await frame.locator('#report[data-state="shown"]').waitFor();

    // Access taken back: the report leaves the screen within a second.
    const removed = await admin.delete(`/api/v1/reports/${report}/access/users/${viewer.id}`);
    assert.equal(removed.status, 204);
    const started = Date.now();
    await page.locator('.powerbi-frame').waitFor({ state: 'detached', timeout: 5_000 });
    const took = Date.now() - started;
    assert.ok(took < 1_500, `the report left ${took} ms after access was taken back`);
    assert.match(await page.locator('.viewer-notice h2').textContent(), /access to this report was removed/);
    await context.close();
  });
});
