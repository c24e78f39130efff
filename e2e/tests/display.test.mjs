// A TV paired by the code it shows. A fresh page on /display shows a large code; an
// administrator pairs it through the API; the screen shows the report by itself; a power cut
// (a reload) brings the report back without a code; unpairing it blanks the screen within a
// second and it shows a new code.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ACCOUNTS, launchBrowser, screenshotPath, startDemoServer } from '../support/server.mjs';
import { apiSession } from '../support/viewer.mjs';

const TIMEOUT = { timeout: 90_000 };

describe('A display paired by its code', () => {
  let browser;
  let server;
  let admin;

  before(async () => {
    browser = await launchBrowser();
    server = await startDemoServer({ rows: 20_000 });
    admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** The code the screen shows now, once it shows one. */
  async function shownCode(page) {
    await page.locator('#pairing').waitFor({ state: 'visible', timeout: 10_000 });
    await page.waitForFunction(() => /^[A-Z0-9]{3} [A-Z0-9]{3}$/.test(document.getElementById('code')?.textContent ?? ''));
    return (await page.locator('#code').textContent()).replace(' ', '');
  }

  /** Waits until the screen draws its report's visuals inside its frame. */
  async function reportDrawn(page) {
    await page.waitForSelector('#screen iframe', { timeout: 15_000 });
    const frame = page.frameLocator('#screen iframe');
    await frame.locator('.visual svg').first().waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('#pairing').isHidden(), true, 'no code while it shows');
  }

  test('a fresh screen shows a code, is paired through the API and shows its report by itself, also after a power cut; unpaired, it goes dark within a second and shows a new code', TIMEOUT, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const urls = [];
    page.on('request', (request) => urls.push(request.url()));
    try {
      assert.equal((await page.goto(`${server.baseUrl}/display`)).status(), 200);
      const code = await shownCode(page);
      assert.match(code, /^[ACDEFGHJKMNPQRTUVWXY34679]{6}$/, 'easy to read across a room');
      await page.screenshot({ path: screenshotPath('display-code') });

      const report = (await admin.get('/api/v1/reports')).body.find((r) => r.name === 'Warehouse operations');
      const displays = (await admin.get('/api/v1/groups')).body.find((g) => g.name === 'Displays');
      const paired = await admin.post('/api/v1/displays/pair', {
        code: code.toLowerCase(),
        name: 'Dock 3 TV',
        show: { report: report.id },
        groups: [displays.id],
      });
      assert.equal(paired.status, 201, JSON.stringify(paired.body));
      // Nobody touches the screen.
      await reportDrawn(page);
      await page.screenshot({ path: screenshotPath('display-showing') });
      const credential = await page.evaluate(() => localStorage.getItem('vitrine.display.credential'));
      assert.ok(credential && credential.length > 30, 'kept in the browser storage');

      // A power cut: the page loads again and comes back to the report, without a code.
      const pairingsBefore = urls.filter((u) => u.endsWith('/api/v1/display/pairings')).length;
      await page.reload();
      await reportDrawn(page);
      assert.equal(urls.filter((u) => u.endsWith('/api/v1/display/pairings')).length, pairingsBefore, 'no new code asked for');

      // Its health, as Admin › Displays shows it.
      for (let i = 0; i < 50; i += 1) {
        const listed = (await admin.get('/api/v1/displays')).body[0];
        if (listed.state === 'showing') break;
        await page.waitForTimeout(100);
      }
      const listed = (await admin.get('/api/v1/displays')).body[0];
      assert.deepEqual([listed.name, listed.status, listed.state], ['Dock 3 TV', 'online', 'showing']);
      assert.match(listed.browser, /Chrom/);

      // Unpaired: dark within a second, then a new code.
      const gone = await admin.delete(`/api/v1/displays/${paired.body.id}`);
      assert.equal(gone.status, 204);
      const unpaired = Date.now();
      await page.waitForFunction(() => !document.querySelector('#screen iframe'), null, { timeout: 1_000 });
      assert.ok(Date.now() - unpaired <= 1_000, `dark ${Date.now() - unpaired} ms after`);
      const again = await shownCode(page);
      assert.notEqual(again, code, 'a new code');
      assert.equal(await page.evaluate(() => localStorage.getItem('vitrine.display.credential')), null, 'the credential is gone');
      await page.screenshot({ path: screenshotPath('display-unpaired') });

      // Never a credential or token in a URL.
      assert.ok(urls.every((u) => !u.includes(credential)), 'the credential is never in a URL');
      assert.ok(urls.every((u) => !/token=|eyJ/.test(u)), urls.filter((u) => /token=|eyJ/.test(u)).join('\n'));
    } finally {
      await context.close();
    }
  });
});
