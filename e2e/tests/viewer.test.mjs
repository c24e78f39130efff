// The viewer keeps reports on screen: token refresh on interaction, the timed update, sleep,
// a wrong client clock, signing in again in place, access removed, and row-level security.
// The page's clock is Playwright's; the server's is the test clock of `test-clock` builds.

import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';

import { ACCOUNTS, DEMO_PASSWORD, launchBrowser, screenshotPath, startDemoServer } from '../support/server.mjs';
import { signIn } from '../support/portal.mjs';
import { advanceServer, afterInteraction, apiSession, idle, keepCapacitiesOn, noticeShown, openReport, settle, trackRequests } from '../support/viewer.mjs';

const TIMEOUT = { timeout: 60_000 };
const ROWS = 20_000;

describe('Viewer scenarios', () => {
  let browser;
  let server;
  let admin;
  const contexts = [];

  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    server = await startDemoServer({ testClock: true, rows: ROWS });
    admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
    await keepCapacitiesOn(admin);
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close().catch(() => {});
    await server?.stop();
  });

  async function settings(changes) {
    const response = await admin.patch('/api/v1/settings', changes);
    assert.equal(response.status, 200, JSON.stringify(response.body));
  }

  async function reportId(name) {
    const list = await admin.get('/api/v1/reports');
    return list.body.find((r) => r.name === name).id;
  }

  /** A signed-in viewer page whose clock the test moves; `offsetMs` puts its clock off. */
  async function viewerPage(email = ACCOUNTS.viewer, { offsetMs = 0 } = {}) {
    const session = await signIn(browser, server.baseUrl, email);
    contexts.push(session.context);
    const { page } = session;
    await page.clock.install({ time: Date.now() + offsetMs });
    const requests = trackRequests(page);
    return { page, requests };
  }

  async function clickBar(page, label) {
    await afterInteraction(page, () => page.locator('.bar-button', { hasText: label }).first().click());
  }

  async function chips(page) {
    return page.locator('.filter-chips .chip').allTextContents();
  }

  test('(a) idle 61 minutes without the timed update: the next interaction refreshes silently and keeps the filters', TIMEOUT, async () => {
    await settings({ tokenUpdateEveryMinutes: null });
    const { page, requests } = await viewerPage();
    await openReport(page, await reportId('Sales overview'));
    await clickBar(page, 'Central');
    assert.deepEqual(await chips(page), ['region: Central ×']);
    const tokensBefore = requests.tokenRequests;

    await idle(page, requests, server.baseUrl, 61, { step: 61 });
    assert.equal(requests.tokenRequests, tokensBefore, 'nothing happens while idle');
    await afterInteraction(page, () => page.getByRole('button', { name: 'Products' }).click());
    assert.equal(requests.tokenRequests, tokensBefore + 1, 'one silent refresh');
    assert.equal(await noticeShown(page), false, 'no error was shown');
    assert.equal(await page.locator('.page-tab[aria-current="true"]').textContent(), 'Products');
    await afterInteraction(page, () => page.getByRole('button', { name: 'Overview' }).click());
    assert.deepEqual(await chips(page), ['region: Central ×'], 'the filter is kept');
  });

  test('time grains read as their periods: years, quarters, months and weeks, not first days', TIMEOUT, async () => {
    const { page } = await viewerPage(ACCOUNTS.admin);
    await openReport(page, await reportId('Executive summary'));
    const years = await page.locator('.visual', { hasText: 'Revenue by year' }).locator('.bar-label').allTextContents();
    assert.deepEqual(years.toSorted(), ['2023', '2024', '2025']);
    await openReport(page, await reportId('Regional performance'));
    const quarters = await page.locator('.visual', { hasText: 'Revenue by quarter' }).locator('.line-chart .axis').allTextContents();
    assert.ok(quarters.includes('Q1 2023') && quarters.includes('Q4 2025'), quarters.join(' | '));
    await openReport(page, await reportId('Sales overview'));
    const months = await page.locator('.visual', { hasText: 'Revenue by month' }).locator('.line-chart .axis').allTextContents();
    assert.ok(months.some((m) => /^Jan 2023$/.test(m)), months.join(' | '));
    await openReport(page, await reportId('Warehouse operations'));
    const weeks = await page.locator('.visual', { hasText: 'Units by week' }).locator('.line-chart .axis').allTextContents();
    // "week of 26 Dec 2022" or "week of Dec 26, 2022", as the browser's language writes a day.
    assert.ok(weeks.some((w) => /^week of \D*\d{1,2}\D+20\d\d$/.test(w)), weeks.join(' | '));
  });

  test('(c) an interaction at minute 55 refreshes the token before its query', TIMEOUT, async () => {
    await settings({ tokenUpdateEveryMinutes: null });
    const { page, requests } = await viewerPage();
    await openReport(page, await reportId('Sales overview'));
    await idle(page, requests, server.baseUrl, 55, { step: 55 });
    const mark = requests.log.length;
    await clickBar(page, 'South');
    const sequence = requests.log.slice(mark).filter((line) => line.startsWith('POST'));
    assert.match(sequence[0], /\/token$/, `the token comes first: ${sequence.join(', ')}`);
    assert.ok(sequence.slice(1).every((line) => line.endsWith('/query')), sequence.join(', '));
    assert.equal(await noticeShown(page), false);
  });

  test('(b) idle 5 hours with a 2-hour session timeout: without the timed update the viewer asks to sign in, in place, and continues', TIMEOUT, async () => {
    await settings({ tokenUpdateEveryMinutes: null, sessionIdleTimeoutMinutes: 120 });
    const { page, requests } = await viewerPage();
    await openReport(page, await reportId('Sales overview'));
    await clickBar(page, 'West');
    await idle(page, requests, server.baseUrl, 300, { step: 60 });

    await page.getByRole('button', { name: 'Products' }).click();
    const notice = page.locator('.viewer-notice');
    await notice.waitFor({ state: 'visible' });
    assert.match(await notice.textContent(), /Your session has ended/);
    assert.match(await notice.textContent(), /TokenExpired/);
    await page.screenshot({ path: screenshotPath('viewer-session-ended') });

    const form = notice.locator('form');
    await form.locator('input[name="email"]').fill(ACCOUNTS.viewer);
    await form.locator('input[name="password"]').fill(DEMO_PASSWORD);
    await afterInteraction(page, () => form.getByRole('button', { name: 'Sign in' }).click());
    assert.equal(await noticeShown(page), false);
    assert.equal(await page.locator('.page-tab[aria-current="true"]').textContent(), 'Overview', 'the page is kept');
    assert.deepEqual(await chips(page), ['region: West ×'], 'the filters are kept');
    await afterInteraction(page, () => page.getByRole('button', { name: 'Products' }).click());
    assert.equal(await page.locator('.page-tab[aria-current="true"]').textContent(), 'Products');
  });

  test('(b) idle 5 hours with a 2-hour session timeout and the timed update every 50 minutes: no error, a token every 50 minutes', TIMEOUT, async () => {
    await settings({ tokenUpdateEveryMinutes: 50, sessionIdleTimeoutMinutes: 120 });
    const { page, requests } = await viewerPage();
    await openReport(page, await reportId('Sales overview'));
    await clickBar(page, 'North');
    const tokensBefore = requests.tokenRequests;
    await idle(page, requests, server.baseUrl, 300, { step: 10 });
    assert.equal(requests.tokenRequests - tokensBefore, 6, 'one token request every 50 minutes for 300 minutes');
    assert.equal(await noticeShown(page), false);
    await afterInteraction(page, () => page.getByRole('button', { name: 'Products' }).click());
    assert.equal(await noticeShown(page), false, 'still signed in');
    await afterInteraction(page, () => page.getByRole('button', { name: 'Overview' }).click());
    assert.deepEqual(await chips(page), ['region: North ×']);
  });

  test('(d) a device that sleeps 3 hours recovers by itself on wake', TIMEOUT, async () => {
    const { page, requests } = await viewerPage();
    await openReport(page, await reportId('Sales overview'));
    const tokensBefore = requests.tokenRequests;
    await advanceServer(server.baseUrl, 3 * 3600);
    // Timers do not run in sleep: the clock jumps and each due timer fires once, late.
    await page.clock.fastForward('03:00:00');
    await page.clock.runFor(20_000);
    await settle(page, requests);
    assert.ok(requests.tokenRequests > tokensBefore, 'a new token on wake, without any interaction');
    assert.equal(await noticeShown(page), false);
    await clickBar(page, 'East');
    assert.equal(await noticeShown(page), false);
    assert.deepEqual(await chips(page), ['region: East ×']);
  });

  test('(e) a client clock 3 hours off still refreshes on time', TIMEOUT, async () => {
    await settings({ tokenUpdateEveryMinutes: 50 });
    const { page, requests } = await viewerPage(ACCOUNTS.viewer, { offsetMs: -3 * 3600_000 });
    await openReport(page, await reportId('Sales overview'));
    const tokensBefore = requests.tokenRequests;
    await idle(page, requests, server.baseUrl, 45, { step: 45 });
    assert.equal(requests.tokenRequests, tokensBefore, 'not early');
    await idle(page, requests, server.baseUrl, 10, { step: 10 });
    assert.equal(requests.tokenRequests, tokensBefore + 1, 'on time, at 50 minutes');
    await idle(page, requests, server.baseUrl, 50, { step: 10 });
    assert.equal(requests.tokenRequests, tokensBefore + 2);
    assert.equal(await noticeShown(page), false);
  });

  test('(g) a user removed from the report\'s group sees at once, without a click, that access was removed', TIMEOUT, async () => {
    const { page } = await viewerPage();
    await openReport(page, await reportId('Sales overview'));
    const users = await admin.get('/api/v1/users');
    const viewer = users.body.find((u) => u.email === ACCOUNTS.viewer);
    const groups = await admin.get('/api/v1/groups');
    const sales = groups.body.find((g) => g.name === 'Sales team');
    await page.waitForSelector('#viewer[data-live="ready"]');
    assert.equal((await admin.delete(`/api/v1/groups/${sales.id}/members/${viewer.id}`)).status, 204);

    // The live channel hears the revocation; the viewer's new token is refused: NoAccess.
    const notice = page.locator('.viewer-notice');
    await notice.waitFor({ state: 'visible', timeout: 1_000 });
    const text = await notice.textContent();
    assert.match(text, /access to this report was removed/i);
    assert.match(text, /NoAccess/);
    await page.screenshot({ path: screenshotPath('viewer-access-removed') });

    // Access given back: the Refresh button brings the report back without a reload.
    assert.equal((await admin.put(`/api/v1/groups/${sales.id}/members/${viewer.id}`)).status, 204);
    await afterInteraction(page, () => notice.getByRole('button', { name: 'Refresh' }).click());
    assert.equal(await noticeShown(page), false);
  });

  test('(g2) an open report goes dark within a second when an operator suspends its organization', TIMEOUT, async () => {
    const acme = await apiSession(server.baseUrl, ACCOUNTS.acmeAdmin);
    const me = await acme.get('/api/v1/me');
    const organization = me.body.organization.id;
    const report = (await acme.get('/api/v1/reports')).body[0];
    // Acme's report gets data: a small dataset uploaded like a browser does, and one card.
    const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: ACCOUNTS.acmeAdmin, password: DEMO_PASSWORD }),
    });
    const cookie = login.headers.get('set-cookie').split(';')[0];
    const { csrfToken } = await login.json();
    const form = new FormData();
    form.append('name', 'Visits');
    form.append('file', new Blob(['city,visits\nOslo,3\nBergen,5\n']), 'visits.csv');
    const uploaded = await fetch(`${server.baseUrl}/api/v1/datasets`, {
      method: 'POST',
      headers: { Cookie: cookie, 'X-CSRF-Token': csrfToken },
      body: form,
    });
    assert.equal(uploaded.status, 201, await uploaded.clone().text());
    const dataset = (await uploaded.json()).id;
    const visuals = [{ id: 'visits', type: 'card', title: 'Visits', measures: [{ column: 'visits', agg: 'sum', label: 'Visits' }] }];
    const defined = await acme.put(`/api/v1/reports/${report.id}/definition`, {
      dataset,
      pages: [{ id: 'overview', title: 'Overview', visuals }],
    });
    assert.equal(defined.status, 200, JSON.stringify(defined.body));
    const { page } = await viewerPage(ACCOUNTS.acmeAdmin);
    await openReport(page, report.id);
    await page.waitForSelector('#viewer[data-live="ready"]');
    assert.equal(await noticeShown(page), false);

    // admin@example.com is the demo installation's operator.
    const suspended = await admin.patch(`/api/v1/installation/organizations/${organization}`, { suspended: true });
    assert.equal(suspended.status, 200, JSON.stringify(suspended.body));
    const answered = Date.now();
    const notice = page.locator('.viewer-notice');
    await notice.waitFor({ state: 'visible', timeout: 1_000 });
    const dark = Date.now() - answered;
    assert.ok(dark <= 1_000, `dark ${dark} ms after the suspension`);
    assert.match(await notice.textContent(), /session has ended/i);
    await page.screenshot({ path: screenshotPath('viewer-organization-suspended') });
  });

  test('(h) the regional viewer only ever sees their region, also through the query API with a forged filter', TIMEOUT, async () => {
    const { page } = await viewerPage(ACCOUNTS.regional);
    const id = await reportId('Regional performance');
    await openReport(page, id);
    const donut = await page.locator('[data-visual="by-region"] .legend-label').allTextContents();
    assert.deepEqual(donut, ['North']);
    const countries = await page.locator('[data-visual="by-country"] .bar-label').allTextContents();
    assert.deepEqual(countries.sort(), ['Finland', 'Norway', 'Sweden']);
    await page.screenshot({ path: screenshotPath('viewer-regional'), fullPage: true });

    const forged = await page.evaluate(async (report) => {
      const me = await (await fetch('/api/v1/me')).json();
      const issued = await (await fetch(`/api/v1/reports/${report}/token`, { method: 'POST', headers: { 'X-CSRF-Token': me.csrfToken } })).json();
      const ask = async (filters) => {
        const response = await fetch(`/api/v1/embed/reports/${report}/query`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${issued.token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ page: 'region', visual: 'by-region', filters }),
        });
        return { status: response.status, body: await response.json() };
      };
      return { south: await ask([{ column: 'region', values: ['South', 'East'] }]), all: await ask([]) };
    }, id);
    assert.equal(forged.south.status, 200);
    assert.deepEqual(forged.south.body.rows, [], 'a forged filter never reveals another region');
    assert.deepEqual(forged.all.body.rows.map((row) => row[0]), ['North']);
  });
});

describe('Viewer across a server restart', () => {
  test('(f) the server restarts mid-session: the viewer reconnects and recovers by itself', { timeout: 90_000 }, async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dataDir = mkdtempSync(join(tmpdir(), 'vitrine-e2e-restart-'));
    const browser = await launchBrowser();
    let server = await startDemoServer({ testClock: true, rows: ROWS, dataDir });
    const port = Number(new URL(server.baseUrl).port);
    try {
      const session = await signIn(browser, server.baseUrl, ACCOUNTS.viewer);
      const { page } = session;
      await page.clock.install({ time: Date.now() });
      const requests = trackRequests(page);
      const admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
      const reports = await admin.get('/api/v1/reports');
      await openReport(page, reports.body.find((r) => r.name === 'Sales overview').id);

      await server.stop();
      await page.locator('.bar-button', { hasText: 'Central' }).first().click();
      await page.waitForFunction(() => document.querySelector('.connection')?.getAttribute('data-state') === 'reconnecting');
      assert.equal(await noticeShown(page), false, 'a restart is not an error the user must act on');

      server = await startDemoServer({ testClock: true, rows: ROWS, dataDir, port });
      for (let i = 0; i < 40; i += 1) {
        await page.clock.runFor(5_000);
        await settle(page, requests);
        // Retries wait on the page's clock: keep it moving until every visual has its data.
        const state = await page.getAttribute('.connection', 'data-state');
        const loading = await page.locator('.visual.loading').count();
        if (state === 'live' && loading === 0 && (await page.locator('.filter-chips .chip').count()) === 1) break;
      }
      assert.equal(await page.getAttribute('.connection', 'data-state'), 'live', await page.locator('.viewer-notice').textContent());
      assert.equal(await page.locator('.visual.loading').count(), 0, 'every visual recovered');
      assert.deepEqual(await page.locator('.filter-chips .chip').allTextContents(), ['region: Central ×']);
      assert.deepEqual(await page.locator('[data-visual="by-region"] .bar-label').allTextContents(), ['Central']);
      assert.equal(await noticeShown(page), false);
      await session.context.close();
    } finally {
      await browser.close();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
