// The on-demand capacity seen from the viewer. First the demo's own capacity, the whole story:
// nobody holding capacity.keepOn looks for an hour, so it pauses; a viewer who may not wake it
// waits with a clear message; an executive opening the report starts it ("Starting…") and both
// see the report by themselves. Then a paused report that only an administrator's resume
// brings back — no reload either way.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ACCOUNTS, launchBrowser, screenshotPath, startDemoServer } from '../support/server.mjs';
import { signIn } from '../support/portal.mjs';
import { advanceServer, apiSession } from '../support/viewer.mjs';

const TIMEOUT = { timeout: 60_000 };

async function capacityState(admin, id) {
  const answer = await admin.get(`/api/v1/capacities/${id}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.state;
}

async function until(admin, id, state) {
  for (let i = 0; i < 100; i += 1) {
    if ((await capacityState(admin, id)) === state) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`the capacity never reached ${state}`);
}

/** Waits until the report is drawn and its capacity banner is gone. */
async function reportShown(page) {
  await page.waitForSelector('#viewer[data-loaded]', { timeout: 15_000 });
  await page.waitForFunction(() => document.querySelectorAll('.visual.loading').length === 0);
  assert.ok(await page.locator('.capacity-banner').isHidden(), 'the banner goes once the report shows');
  assert.ok((await page.locator('.visual svg').count()) > 0, 'the visuals are drawn');
}

describe('The demo capacity on demand', () => {
  let browser;
  let server;

  before(async () => {
    browser = await launchBrowser();
    server = await startDemoServer({ testClock: true, rows: 20_000 });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('idle an hour it pauses; a viewer waits; an executive opening a report starts it; both see the report by themselves', TIMEOUT, async () => {
    const admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
    const capacity = (await admin.get('/api/v1/capacities')).body.find((c) => c.name === 'Built-in engine');
    assert.deepEqual([capacity.mode, capacity.state, capacity.idleMinutes], ['onDemand', 'Running', 60]);
    const report = (await admin.get('/api/v1/reports')).body.find((r) => r.name === 'Sales overview');
    assert.equal(report.capacityId, capacity.id);

    await advanceServer(server.baseUrl, 59 * 60);
    assert.equal(await capacityState(admin, capacity.id), 'Running', '59 idle minutes');
    await advanceServer(server.baseUrl, 60);
    await until(admin, capacity.id, 'Paused');
    const paused = (await admin.get(`/api/v1/capacities/${capacity.id}/events`)).body[0];
    assert.deepEqual([paused.state, paused.reason], ['Paused', 'inactivity']);

    // viewer@ holds neither capacity.turnOn nor capacity.keepOn.
    const viewer = await signIn(browser, server.baseUrl, ACCOUNTS.viewer);
    // admin@ is in Executives, which holds capacity.turnOn.
    const executive = await signIn(browser, server.baseUrl, ACCOUNTS.admin);
    try {
      await viewer.page.goto(`/reports/${report.id}`);
      const waiting = viewer.page.locator('.capacity-banner');
      await waiting.waitFor({ state: 'visible' });
      const said = await waiting.innerText();
      assert.match(said, /Paused to save cost/);
      assert.match(said, /appears by itself/);
      assert.equal(said.match(/paused to save cost/gi).length, 1, `said once: ${said}`);
      assert.equal(await viewer.page.getAttribute('.connection', 'data-state'), 'waiting', 'not "Live" while it waits');
      await viewer.page.waitForTimeout(1_000);
      assert.equal(await capacityState(admin, capacity.id), 'Paused', 'the viewer does not wake it');

      await executive.page.goto(`/reports/${report.id}`);
      const starting = executive.page.locator('.capacity-banner');
      await starting.waitFor({ state: 'visible' });
      assert.match(await starting.innerText(), /Starting…\s+The report appears by itself when it is ready/);
      assert.equal(await starting.locator('.progress').count(), 1, 'with progress');
      await executive.page.screenshot({ path: screenshotPath('capacity-starting') });

      await reportShown(executive.page);
      await reportShown(viewer.page);
      assert.equal(await viewer.page.getAttribute('.connection', 'data-state'), 'live');
      assert.equal(await viewer.page.locator('.viewer-notice:not([hidden])').count(), 0, 'no error notice');
      assert.equal(await capacityState(admin, capacity.id), 'Running');

      const timeline = (await admin.get(`/api/v1/capacities/${capacity.id}/events`)).body;
      const started = timeline.filter((e) => e.state === 'Resuming');
      assert.deepEqual(started.map((e) => [e.reason, e.by]), [['demand', ACCOUNTS.admin]], 'one start, by the executive');

      // The Capacity page tells the same story.
      await executive.page.goto(`/admin/capacities/${capacity.id}`);
      const page = await executive.page.locator('main').innerText();
      assert.match(page, /Paused by inactivity/);
      assert.match(page, /Started by demand/);
      await executive.page.screenshot({ path: screenshotPath('capacity-page'), fullPage: true });
    } finally {
      await viewer.context.close();
      await executive.context.close();
    }
  });
});

describe('A paused report only an administrator brings back', () => {
  let browser;
  let server;

  before(async () => {
    browser = await launchBrowser();
    server = await startDemoServer({ rows: 20_000 });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a paused report waits with a clear message and appears by itself once resumed', TIMEOUT, async () => {
    const admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
    const created = await admin.post('/api/v1/capacities', { name: 'Reports engine', provider: 'simulated', mode: 'manual' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const capacity = created.body.id;
    const report = (await admin.get('/api/v1/reports')).body.find((r) => r.name === 'Sales overview').id;
    const placed = await admin.patch(`/api/v1/reports/${report}`, { capacityId: capacity });
    assert.equal(placed.status, 200, JSON.stringify(placed.body));
    assert.equal((await admin.post(`/api/v1/capacities/${capacity}/pause`)).status, 200);
    await until(admin, capacity, 'Paused');

    // viewer@ holds neither capacity.turnOn nor capacity.keepOn.
    const { page, context } = await signIn(browser, server.baseUrl, ACCOUNTS.viewer);
    try {
      const response = await page.goto(`/reports/${report}`);
      assert.equal(response.status(), 200);
      const banner = page.locator('.capacity-banner');
      await banner.waitFor({ state: 'visible' });
      // An administrator paused it: the screen says so, not "to save cost".
      assert.match(await banner.innerText(), /Paused by an administrator/);
      assert.equal(await page.locator('.viewer-notice:not([hidden])').count(), 0, 'no error notice');
      await page.screenshot({ path: screenshotPath('capacity-paused') });

      // Its steady look at the capacity (every 3–6 s) does not wake it.
      const tokenRequests = [];
      page.on('request', (request) => {
        if (request.method() === 'POST' && new URL(request.url()).pathname.endsWith('/token')) tokenRequests.push(request);
      });
      await page.waitForTimeout(8_000);
      assert.ok(tokenRequests.length >= 1 && tokenRequests.length <= 3, `${tokenRequests.length} looks in 8 s`);
      assert.equal(await capacityState(admin, capacity), 'Paused');

      assert.equal((await admin.post(`/api/v1/capacities/${capacity}/resume`)).status, 200);
      await reportShown(page);

      const events = (await admin.get(`/api/v1/capacities/${capacity}/events`)).body;
      const resumes = events.filter((e) => e.state === 'Resuming');
      assert.deepEqual(resumes.map((e) => e.reason), ['manual'], 'only the administrator woke it');
    } finally {
      await context.close();
    }
  });

  test('an open report whose capacity pauses waits without polling and is back the moment it resumes, told by its live channel', TIMEOUT, async () => {
    const admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
    const created = await admin.post('/api/v1/capacities', { name: 'Wallboard engine', provider: 'simulated', mode: 'manual' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const capacity = created.body.id;
    const report = (await admin.get('/api/v1/reports')).body.find((r) => r.name === 'Sales overview').id;
    assert.equal((await admin.patch(`/api/v1/reports/${report}`, { capacityId: capacity })).status, 200);

    const { page, context } = await signIn(browser, server.baseUrl, ACCOUNTS.viewer);
    try {
      await page.goto(`/reports/${report}`);
      await reportShown(page);
      await page.waitForSelector('#viewer[data-live="ready"]');

      assert.equal((await admin.post(`/api/v1/capacities/${capacity}/pause`)).status, 200);
      await until(admin, capacity, 'Paused');
      const queries = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname.endsWith('/query')) queries.push(Date.now());
      });
      await page.locator('.bar-button', { hasText: 'Central' }).first().click();
      await page.locator('.capacity-banner').waitFor({ state: 'visible' });
      const waiting = queries.length;
      // The 3–6 s poll would have looked at least once by now; the channel will say when.
      await page.waitForTimeout(7_000);
      assert.equal(queries.length, waiting, 'no look at the capacity while the channel is open');

      const resumed = Date.now();
      assert.equal((await admin.post(`/api/v1/capacities/${capacity}/resume`)).status, 200);
      await page.waitForFunction(() => document.querySelector('.capacity-banner')?.hidden !== false
        && document.querySelectorAll('.visual.loading').length === 0, null, { timeout: 3_000 });
      assert.ok(Date.now() - resumed < 3_000, 'back within seconds of the resume');
      assert.deepEqual(await page.locator('.filter-chips .chip').allTextContents(), ['region: Central ×'], 'the click is kept');
    } finally {
      await context.close();
    }
  });
});
