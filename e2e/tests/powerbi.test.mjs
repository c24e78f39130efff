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
import { startHostApp } from '../support/host-app.mjs';
import { routePowerBi, startStandin } from '../support/standin.mjs';
import { advanceServer, apiSession, settle, trackRequests } from '../support/viewer.mjs';

const TIMEOUT = { timeout: 120_000 };
const SECRET = 'e2e~stand-in.secret';
const WORKSPACE = 'f089354e-8366-4e18-aea3-4cb4a3a50b48';
const SALES = '5b218778-e7a5-4d73-8187-f10824047715';
const REGIONAL = '6c329889-f8b6-4e84-9298-0a1935158826';

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

  /**
   * Moves Power BI's clock (the stand-in's), then the server's, which runs a scheduler pass:
   * a token the pass asks for is then dated on Power BI's new time.
   */
  async function advanceBoth(seconds) {
    assert.equal((await standin.control('POST', 'clock', { seconds })).status, 204);
    await advanceServer(server.baseUrl, seconds);
  }

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
      await advanceBoth(8 * 60);
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

  test('a click into the report when little life is left gets a new token first', TIMEOUT, async () => {
    // Ten-minute tokens, refreshed before an interaction in their last 150 s; no timed update.
    const settings = await admin.patch('/api/v1/settings', { tokenLifetimeMinutes: 10, tokenUpdateEveryMinutes: null });
    assert.equal(settings.status, 200, JSON.stringify(settings.body));
    const { context, page, frame, requests } = await openAsViewer({ clock: true });
    await page.clock.runFor(8 * 60_000);
    await settle(page, requests);
    assert.equal(await frame.locator('#report').getAttribute('data-token-changes'), '0', 'nothing asked by itself');
    await frame.locator('#visual span[title="North"]').click();
    await frame.locator('#report[data-token-changes="1"][data-state="shown"]').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#viewer').getAttribute('data-last-refresh'), 'interaction');
    assert.equal(await frame.locator('#report').getAttribute('data-filter'), 'North', 'and the click did what it does');
    await context.close();
  });

  test('a paused Azure capacity is woken by a permitted user and not by others, pauses after its idle time, and its timeline matches the ARM calls', TIMEOUT, async () => {
    const settings = await admin.patch('/api/v1/settings', { tokenLifetimeMinutes: 60, tokenUpdateEveryMinutes: 50 });
    assert.equal(settings.status, 200, JSON.stringify(settings.body));
    const created = await admin.post('/api/v1/capacities', {
      name: 'Contoso A1',
      mode: 'onDemand',
      idleMinutes: 30,
      hourlyPrice: 1.01,
      azure: { kind: 'powerBiEmbedded', subscriptionId: '00000000-0000-0000-0000-000000000001', resourceGroup: 'analytics', name: 'contosoembedded' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const capacity = created.body.id;
    assert.equal((await admin.patch(`/api/v1/reports/${report}`, { capacityId: capacity })).status, 200);
    const state = async () => (await admin.get(`/api/v1/capacities/${capacity}`)).body.state;
    const until = async (wanted) => {
      for (let i = 0; i < 150; i += 1) {
        if ((await state()) === wanted) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const timeline = (await admin.get(`/api/v1/capacities/${capacity}/events`)).body;
      assert.fail(`the capacity never reached ${wanted}: ${JSON.stringify(timeline.slice(0, 3))}`);
    };
    // Nobody looks for 31 minutes: it pauses for inactivity (a pause by an administrator
    // would stand until an administrator resumes it).
    await advanceBoth(31 * 60);
    await until('Paused');
    const armActions = async () =>
      (await standin.control('GET', 'calls')).body
        .filter((call) => call.method === 'POST')
        .map((call) => call.path.split('/').at(-1));
    assert.deepEqual(await armActions(), ['suspend']);

    // The viewer may not wake it: the report waits, and Azure is not asked.
    const waiting = await signIn(browser, server.baseUrl, ACCOUNTS.viewer);
    await routePowerBi(waiting.context, standin.url);
    await waiting.page.goto(`/reports/${report}`);
    const banner = waiting.page.locator('.capacity-banner');
    await banner.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await banner.textContent(), /Paused to save cost/);
    assert.equal(await state(), 'Paused');
    assert.deepEqual(await armActions(), ['suspend'], 'no resume for a viewer');

    // The administrator is in Executives, which holds capacity.turnOn: opening the report
    // resumes the capacity in Azure; both see the report by themselves.
    const waking = await signIn(browser, server.baseUrl, ACCOUNTS.admin);
    await routePowerBi(waking.context, standin.url);
    await waking.page.goto(`/reports/${report}`);
    for (const page of [waking.page, waiting.page]) {
      await page.frameLocator('.powerbi-frame iframe').locator('#report[data-state="shown"]').waitFor({ timeout: 30_000 });
      await page.locator('.capacity-banner').waitFor({ state: 'hidden' });
    }
    assert.deepEqual(await armActions(), ['suspend', 'resume']);
    await waking.context.close();
    await waiting.context.close();

    // Nobody looks for 31 minutes again: it pauses, in Azure too.
    await advanceBoth(31 * 60);
    await until('Paused');
    assert.deepEqual(await armActions(), ['suspend', 'resume', 'suspend']);
    const timeline = (await admin.get(`/api/v1/capacities/${capacity}/events`)).body;
    const moves = timeline
      .filter((event) => event.state === 'Pausing' || event.state === 'Resuming')
      .reverse()
      .map((event) => `${event.state === 'Pausing' ? 'suspend' : 'resume'}:${event.reason}`);
    assert.deepEqual(moves, ['suspend:inactivity', 'resume:demand', 'suspend:inactivity'], 'one ARM call per transition, in order');

    // Two hours paused at 1.01 an hour.
    await advanceBoth(2 * 60 * 60);
    const { page } = await signIn(browser, server.baseUrl, ACCOUNTS.admin);
    await page.goto(`/admin/capacities/${capacity}`);
    const month = await page.locator('main').textContent();
    assert.match(month, /2\.0 hours off/);
    assert.match(month, /Saved: 2\.02/);
    await page.screenshot({ path: screenshotPath('powerbi-azure-capacity') });
    await page.context().close();
    // Back as it was for the next test: running, and the report on no capacity.
    assert.equal((await admin.post(`/api/v1/capacities/${capacity}/resume`)).status, 200);
    await until('Running');
    assert.equal((await admin.patch(`/api/v1/reports/${report}`, { capacityId: null })).status, 200);
  });

  test("embedded in a host app with the SDK, a Power BI report shows as the host's user and leaves when the host takes access back", TIMEOUT, async () => {
    const imported = await admin.post('/api/v1/reports', { name: 'Regional (Power BI)', powerbi: { workspaceId: WORKSPACE, reportId: REGIONAL } });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    const key = await admin.post('/api/v1/api-keys', { name: 'Example host app', scope: 'embed' });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const host = await startHostApp({ vitrineUrl: server.baseUrl, embedKey: key.body.key, reportId: imported.body.id });
    try {
      const allowed = await admin.patch('/api/v1/settings', { embedAllowedOrigins: [host.url] });
      assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
      const context = await browser.newContext();
      await routePowerBi(context, standin.url);
      const page = await context.newPage();
      await page.goto(`${host.url}/`);
      await page.selectOption('select[name="user"]', 'alice');
      await Promise.all([page.waitForURL(`${host.url}/`), page.click('button[type="submit"]')]);
      const frame = page.frameLocator(`iframe[src^="${server.baseUrl}/embed/reports/"]`).frameLocator('.powerbi-frame iframe');
      await frame.locator('#report[data-state="shown"]').waitFor({ timeout: 15_000 });
      assert.equal(await frame.locator('#name').textContent(), 'Regional Sales');
      // The host's user reached Power BI as the effective identity of the RLS dataset.
      const identity = (await standin.control('GET', 'embed-tokens')).body.at(-1).identities[0];
      assert.equal(identity.username, 'alice');
      assert.deepEqual(identity.roles, ['Own region']);
      assert.deepEqual(JSON.parse(identity.customData), { region: 'North' });
      await page.screenshot({ path: screenshotPath('powerbi-in-host-app') });

      // The host app takes Alice's access back: the report leaves her screen within a second.
      assert.equal((await host.admin('/admin/users/alice/revoke')).status, 200);
      const started = Date.now();
      await page.frameLocator(`iframe[src^="${server.baseUrl}/embed/reports/"]`).locator('.powerbi-frame').waitFor({ state: 'detached', timeout: 5_000 });
      assert.ok(Date.now() - started < 1_500, 'gone within a second');
      await context.close();
    } finally {
      await host.stop();
    }
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
