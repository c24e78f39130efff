// The demo's warehouse TV through a network outage. tv@ holds capacity.keepOn (the Displays
// group), its report "Warehouse operations" runs on the on-demand "Built-in engine" (paused
// after 60 idle minutes), and the organization's timed update is every 50 minutes. The open
// report's live channel keeps the capacity on until the network goes, at minute 70; it stays
// away until minute 135, so the update of minute 100 is lost too and the capacity pauses for
// idleness at minute 130, while nobody can see it. When the network is back the TV
// brings its report back by itself, within a minute: a keepOn viewer may resume a capacity that
// paused for idleness while it was unreachable (docs/capacity.md).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ACCOUNTS, launchBrowser, screenshotPath, startDemoServer } from '../support/server.mjs';
import { signIn } from '../support/portal.mjs';
import { apiSession, idle, openReport, settle, trackRequests } from '../support/viewer.mjs';

describe('The warehouse TV through a network outage', () => {
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

  test('a keepOn screen cut off while its capacity paused for idleness brings its report back by itself within a minute', { timeout: 120_000 }, async () => {
    const admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
    const capacity = (await admin.get('/api/v1/capacities')).body.find((c) => c.name === 'Built-in engine');
    assert.deepEqual([capacity.mode, capacity.idleMinutes], ['onDemand', 60]);
    const report = (await admin.get('/api/v1/reports')).body.find((r) => r.name === 'Warehouse operations');
    assert.equal(report.capacityId, capacity.id);
    const settings = (await admin.get('/api/v1/settings')).body;
    assert.equal(settings.tokenUpdateEveryMinutes, 50, 'the demo updates tokens every 50 minutes');
    const state = async () => (await admin.get(`/api/v1/capacities/${capacity.id}`)).body.state;

    const tv = await signIn(browser, server.baseUrl, ACCOUNTS.tv);
    try {
      const { page, context } = tv;
      await page.clock.install({ time: Date.now() });
      const requests = trackRequests(page);
      await openReport(page, report.id);

      // Seventy minutes on the network, longer than the idle hour: the open report keeps the
      // capacity on.
      await idle(page, requests, server.baseUrl, 70);
      assert.equal(await state(), 'Running', 'kept on by the TV');

      // Sixty-five minutes without it: the channel is gone, and the update of minute 100 never
      // arrives.
      await context.setOffline(true);
      await idle(page, requests, server.baseUrl, 65);
      assert.equal(await state(), 'Paused', 'paused for idleness during the outage');
      const pause = (await admin.get(`/api/v1/capacities/${capacity.id}/events`)).body.find((e) => e.state === 'Paused');
      assert.equal(pause.reason, 'inactivity');

      // Back on the network: the report returns within a minute, nobody touching the screen.
      const answers = [];
      page.on('response', (response) => {
        if (new URL(response.url()).pathname.endsWith('/token')) answers.push(response.status());
      });
      await context.setOffline(false);
      let back = false;
      for (let seconds = 0; seconds <= 60 && !back; seconds += 2) {
        await page.clock.runFor(2_000);
        await settle(page, requests);
        const drawn = await page.evaluate(() => {
          const banner = document.querySelector('.capacity-banner');
          const waiting = banner && !banner.hidden && getComputedStyle(banner).display !== 'none';
          return !waiting && document.querySelectorAll('.visual svg').length > 0
            && document.querySelectorAll('.visual.loading').length === 0;
        });
        back = drawn && answers.includes(200) && (await state()) === 'Running';
        if (!back) await page.waitForTimeout(100);
      }
      await page.screenshot({ path: screenshotPath('outage-back') });
      assert.ok(back, `the report is back within a minute of the network (token answers ${answers.join(', ')})`);
      assert.ok(answers.some((status) => status === 503), 'it met the paused capacity on its way back');
      await page.screenshot({ path: screenshotPath('outage-back') });
      assert.ok(back, 'the report is back within a minute of the network');
      const events = (await admin.get(`/api/v1/capacities/${capacity.id}/events`)).body;
      const resumed = events.find((e) => e.state === 'Resuming');
      assert.deepEqual([resumed.reason, resumed.by], ['keeper returned', ACCOUNTS.tv]);
      assert.equal(await page.locator('.viewer-notice:not([hidden])').count(), 0, 'no error notice');
    } finally {
      await tv.context.close();
    }
  });
});
