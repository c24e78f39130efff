// The on-demand capacity seen from the viewer: a report on a paused capacity tells a user who
// may not wake it that it is paused to save cost, does not wake it, and shows the report by
// itself once an administrator resumes the capacity — no reload.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ACCOUNTS, launchBrowser, screenshotPath, startDemoServer } from '../support/server.mjs';
import { signIn } from '../support/portal.mjs';
import { apiSession } from '../support/viewer.mjs';

const TIMEOUT = { timeout: 60_000 };

describe('Capacity on demand in the viewer', () => {
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
      assert.match(await banner.innerText(), /Paused to save cost/);
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
      await page.waitForSelector('#viewer[data-loaded]', { timeout: 15_000 });
      await page.waitForFunction(() => document.querySelectorAll('.visual.loading').length === 0);
      assert.ok(await banner.isHidden(), 'the banner goes once the report shows');
      assert.ok((await page.locator('.visual svg').count()) > 0, 'the visuals are drawn');

      const events = (await admin.get(`/api/v1/capacities/${capacity}/events`)).body;
      const resumes = events.filter((e) => e.state === 'Resuming');
      assert.deepEqual(resumes.map((e) => e.reason), ['manual'], 'only the administrator woke it');
    } finally {
      await context.close();
    }
  });
});
