// A TV paired by the code it shows. A fresh page on /display shows a large code; an
// administrator pairs it through the API; the screen shows the report by itself; a power cut
// (a reload) brings the report back without a code; unpairing it blanks the screen within a
// second and it shows a new code. Then a week of simulated time, with a daily rotation of the
// display's credential, in which the screen never shows a code or a sign-in.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ACCOUNTS, launchBrowser, screenshotPath, startDemoServer } from '../support/server.mjs';
import { advanceServer, apiSession, keepCapacitiesOn, settle, trackRequests } from '../support/viewer.mjs';

const TIMEOUT = { timeout: 90_000 };

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

/** Pairs the screen showing `code` to show "Warehouse operations", in the Displays group. */
async function pairWarehouse(admin, code, name) {
  const report = (await admin.get('/api/v1/reports')).body.find((r) => r.name === 'Warehouse operations');
  const displays = (await admin.get('/api/v1/groups')).body.find((g) => g.name === 'Displays');
  const paired = await admin.post('/api/v1/displays/pair', { code, name, show: { report: report.id }, groups: [displays.id] });
  assert.equal(paired.status, 201, JSON.stringify(paired.body));
  return paired.body;
}

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

      const paired = { body: await pairWarehouse(admin, code.toLowerCase(), 'Dock 3 TV') };
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

describe('A display, refused and restricted', () => {
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

  test('wrong codes pair nothing and guessing is throttled; a display\'s row-level-security role limits the rows on its screen', TIMEOUT, async () => {
    const admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
    const guesser = await apiSession(server.baseUrl, ACCOUNTS.acmeAdmin);
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    try {
      await page.goto(`${server.baseUrl}/display`);
      const code = await shownCode(page);
      const acmeReport = (await guesser.get('/api/v1/reports')).body[0].id;
      const attempt = (tried) => guesser.post('/api/v1/displays/pair', { code: tried, name: 'Stolen', show: { report: acmeReport } });
      for (let i = 0; i < 10; i += 1) {
        const wrong = await attempt(`ZZZZZ${i}`);
        assert.equal(wrong.status, 400);
        assert.equal(wrong.body.error.field, 'code');
      }
      const held = await attempt(code);
      assert.equal(held.status, 429, 'even the right code, while guessing is held up');
      assert.equal(held.body.error.code, 'RateLimited');
      assert.equal(await page.locator('#pairing').isVisible(), true, 'the screen still waits with its code');
      assert.equal((await page.locator('#code').textContent()).replace(' ', ''), code);

      // Its own organization pairs it, showing a report with row-level security.
      const regional = (await admin.get('/api/v1/reports')).body.find((r) => r.name === 'Regional performance');
      const paired = await admin.post('/api/v1/displays/pair', { code, name: 'South TV', show: { report: regional.id } });
      assert.equal(paired.status, 201, JSON.stringify(paired.body));
      const rls = await admin.put(`/api/v1/users/${paired.body.id}/rls`, { roles: ['Own region'], attributes: { region: 'South' } });
      assert.equal(rls.status, 200, JSON.stringify(rls.body));
      await page.waitForSelector('#screen iframe', { timeout: 15_000 });
      const frame = page.frameLocator('#screen iframe');
      const regions = frame.locator('.visual[data-visual="by-region"] .legend-label');
      await regions.first().waitFor({ timeout: 15_000 }).catch(async (error) => {
        await page.screenshot({ path: screenshotPath('display-rls-failed') });
        throw error;
      });
      for (let i = 0; i < 50 && (await regions.allTextContents()).join() !== 'South'; i += 1) await page.waitForTimeout(100);
      assert.deepEqual(await regions.allTextContents(), ['South'], 'only its own region');
      await page.screenshot({ path: screenshotPath('display-rls') });
    } finally {
      await context.close();
    }
  });
});

describe('A display showing a playlist', () => {
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

  test('a playlist turns from report to report by itself, and a change made in the portal reaches the screen within seconds', TIMEOUT, async () => {
    const admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
    const reports = (await admin.get('/api/v1/reports')).body;
    const id = (name) => reports.find((r) => r.name === name).id;
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const title = () => page.frameLocator('#screen iframe').locator('.viewer-title').textContent({ timeout: 15_000 });
    try {
      await page.goto(`${server.baseUrl}/display`);
      const code = await shownCode(page);
      const playlist = [{ report: id('Sales overview'), seconds: 10 }, { report: id('Warehouse operations'), seconds: 10 }];
      const paired = await admin.post('/api/v1/displays/pair', { code, name: 'Lobby', show: { playlist } });
      assert.equal(paired.status, 201, JSON.stringify(paired.body));
      await reportDrawn(page);
      assert.equal(await title(), 'Sales overview');
      await page.waitForFunction(() => {
        const frame = /** @type {HTMLIFrameElement | null} */ (document.querySelector('#screen iframe'));
        return frame?.contentDocument?.querySelector('.viewer-title')?.textContent === 'Warehouse operations';
      }, null, { timeout: 15_000 });
      await reportDrawn(page);

      const changed = Date.now();
      const patched = await admin.patch(`/api/v1/displays/${paired.body.id}`, { show: { report: id('Executive summary') } });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      await page.waitForFunction(() => {
        const frame = /** @type {HTMLIFrameElement | null} */ (document.querySelector('#screen iframe'));
        return frame?.contentDocument?.querySelector('.viewer-title')?.textContent === 'Executive summary';
      }, null, { timeout: 5_000 });
      assert.ok(Date.now() - changed < 5_000, 'followed within seconds');
      await reportDrawn(page);
      await page.screenshot({ path: screenshotPath('display-changed') });
    } finally {
      await context.close();
    }
  });
});

describe('A display through a week', () => {
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

  test('a week of simulated time, its credential rotated every day, never shows the code or a sign-in', { timeout: 240_000 }, async () => {
    const admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
    await keepCapacitiesOn(admin);
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    try {
      await page.clock.install({ time: Date.now() });
      const requests = trackRequests(page);
      await page.goto(`${server.baseUrl}/display`);
      const code = await shownCode(page);
      await pairWarehouse(admin, code, 'Week TV');
      await page.clock.runFor(3_000); // its next look at the pairing
      await reportDrawn(page);
      const credentials = new Set([await page.evaluate(() => localStorage.getItem('vitrine.display.credential'))]);
      // Ten minutes at a time on both clocks, as a screen lives them: timed token updates,
      // the heartbeat every minute, a credential rotation a day.
      const STEP_MINUTES = 10;
      for (let minutes = STEP_MINUTES; minutes <= 7 * 24 * 60; minutes += STEP_MINUTES) {
        await advanceServer(server.baseUrl, STEP_MINUTES * 60);
        await page.clock.runFor(STEP_MINUTES * 60_000);
        await settle(page, requests);
        if (minutes % 60 !== 0) continue;
        assert.equal(await page.locator('#pairing').isHidden(), true, `no code after ${minutes / 60} hours`);
        assert.equal(new URL(page.url()).pathname, '/display', 'never sent to a sign-in');
        credentials.add(await page.evaluate(() => localStorage.getItem('vitrine.display.credential')));
      }
      await reportDrawn(page);
      const frame = page.frameLocator('#screen iframe');
      await page.screenshot({ path: screenshotPath('display-after-a-week') });
      const notices = await frame.locator('.viewer-notice:not([hidden])').allTextContents();
      assert.deepEqual(notices, [], 'no error on the screen');
      assert.ok(credentials.size >= 7, `rotated daily: ${credentials.size} credentials in a week`);
      // The administrator's own session ended long ago; the screen's credential did not.
      const again = await apiSession(server.baseUrl, ACCOUNTS.admin);
      const listed = (await again.get('/api/v1/displays')).body[0];
      assert.equal(listed.status, 'online');
    } finally {
      await context.close();
    }
  });
});
