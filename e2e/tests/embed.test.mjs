// A report embedded in a host app's own page with the SDK (sdk/vitrine-embed.js), as the
// example host app (examples/host-app) does it: the host on another site than Vitrine
// (localhost against 127.0.0.1), third-party cookies blocked, tokens minted by the host's
// backend with an embed key for its own users, who have no Vitrine account.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';

import { startHostApp } from '../support/host-app.mjs';
import { ACCOUNTS, launchBrowser, screenshotPath, startDemoServer } from '../support/server.mjs';
import { advanceServer, apiSession, keepCapacitiesOn } from '../support/viewer.mjs';

const TIMEOUT = { timeout: 90_000 };
const ROWS = 20_000;
const REPORT = 'Regional performance';

/**
 * A site on an origin Vitrine does not allow, serving `pages` (path → HTML). It is on
 * loopback, as Vitrine is here, so that Chromium's private-network rules do not stand in.
 */
async function foreignSite(pages) {
  const site = createServer((request, response) => {
    const body = pages[request.url]?.replace('PORT', String(site.address().port));
    response.writeHead(body ? 200 : 404, { 'Content-Type': 'text/html' });
    response.end(body ?? 'not found');
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
  return { origin: `http://foreign.localhost:${site.address().port}`, close: () => site.close() };
}

describe('Embedding in a host app', () => {
  let browser;
  let server;
  let host;
  let admin;
  let reportId;
  const contexts = [];

  before(async () => {
    browser = await launchBrowser({ args: ['--test-third-party-cookie-phaseout'] });
  });
  after(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    server = await startDemoServer({ testClock: true, rows: ROWS });
    admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
    await keepCapacitiesOn(admin);
    reportId = (await admin.get('/api/v1/reports')).body.find((r) => r.name === REPORT).id;
    const key = await admin.post('/api/v1/api-keys', { name: 'Example host app', scope: 'embed' });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    host = await startHostApp({ vitrineUrl: server.baseUrl, embedKey: key.body.key, reportId });
    const allowed = await admin.patch('/api/v1/settings', { embedAllowedOrigins: [host.url] });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close().catch(() => {});
    await host?.stop();
    await server?.stop();
  });

  /**
   * A browser signed in to the host app as `user`, with the host page open. `clock` installs
   * Playwright's clock first. Records every URL requested and every token the host's backend
   * handed out.
   */
  async function hostPage(user = 'alice', { clock = false } = {}) {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    if (clock) await page.clock.install({ time: Date.now() });
    const seen = { urls: [], tokens: [], tokenRequests: 0, navigations: 0 };
    page.on('request', (request) => {
      seen.urls.push(request.url());
      if (request.url() === `${host.url}/api/vitrine-token`) seen.tokenRequests += 1;
    });
    page.on('response', async (response) => {
      if (response.url() !== `${host.url}/api/vitrine-token`) return;
      const body = await response.json().catch(() => null);
      if (body?.token) seen.tokens.push(body.token);
    });
    page.on('framenavigated', () => (seen.navigations += 1));
    await page.goto(`${host.url}/`);
    await page.selectOption('select[name="user"]', user);
    await Promise.all([page.waitForURL(`${host.url}/`), page.click('button[type="submit"]')]);
    await rendered(page, 1);
    return { page, seen, frame: embedFrame(page) };
  }

  function embedFrame(page) {
    const frame = page.frames().find((f) => f.url().startsWith(`${server.baseUrl}/embed/reports/`));
    assert.ok(frame, 'the report is framed');
    return frame;
  }

  /** Waits until the SDK has said `rendered` at least `count` times. */
  async function rendered(page, count) {
    await page.waitForFunction((n) => (window.vitrineEvents ?? []).filter((e) => e.name === 'rendered').length >= n, count);
  }

  async function events(page, name) {
    return page.evaluate((wanted) => window.vitrineEvents.filter((e) => e.name === wanted).map((e) => e.detail), name);
  }

  async function legend(frame, visual) {
    return frame.locator(`.visual[data-visual="${visual}"] .legend-label`).allTextContents();
  }

  /** Lets `minutes` pass on the page's clock and the server's, letting the page catch up. */
  async function idle(page, minutes) {
    await advanceServer(server.baseUrl, minutes * 60);
    await page.clock.runFor(minutes * 60_000);
    await page.waitForTimeout(300);
  }

  test('the report embeds on another site with third-party cookies blocked, draws with the identity\'s row-level security, and no URL carries a token', TIMEOUT, async () => {
    const { page, seen, frame } = await hostPage('alice');
    const loaded = await events(page, 'loaded');
    assert.equal(loaded[0].name, REPORT);
    assert.deepEqual(loaded[0].pages.map((p) => p.id), ['region', 'margin']);
    // Alice's roles and attributes come from the host app: her region only.
    assert.deepEqual(await legend(frame, 'by-region'), ['North']);
    // The frame has the report's name as its title and grew to the report's height.
    const iframe = page.locator('#report iframe');
    assert.equal(await iframe.getAttribute('title'), REPORT);
    const frameHeight = (await iframe.boundingBox()).height;
    const contentHeight = await frame.evaluate(() => document.getElementById('viewer').getBoundingClientRect().bottom);
    assert.ok(frameHeight >= contentHeight, `frame ${frameHeight}px holds the report's ${contentHeight}px`);
    // Third-party cookies are blocked here: the frame cannot keep a cookie, and needs none.
    const cookie = await frame.evaluate(() => {
      document.cookie = 'probe=1; path=/';
      return document.cookie;
    });
    assert.equal(cookie, '');
    // Keyboard: a page tab takes focus and opens its page with Enter.
    await frame.locator('.page-tab', { hasText: 'Margin' }).focus();
    await frame.locator('.page-tab', { hasText: 'Margin' }).press('Enter');
    await page.waitForFunction(() => window.vitrineEvents.some((e) => e.name === 'pageChanged' && e.detail.page === 'margin'));
    await page.screenshot({ path: screenshotPath('embed-host-app'), fullPage: true });

    assert.ok(seen.tokens.length >= 1);
    for (const url of seen.urls) {
      for (const token of seen.tokens) assert.ok(!url.includes(token), `a token in ${url}`);
      assert.doesNotMatch(url, /[?&](access_token|token|embed_token)=/);
    }
  });

  test('fetchToken is asked for the first token, on the timed update and after expiry, without a reload and with the filters kept; setFilters and setPage answer with their events', TIMEOUT, async () => {
    const { page, seen, frame } = await hostPage('bob', { clock: true });
    assert.equal(seen.tokenRequests, 1);
    const navigations = seen.navigations;

    const applied = await page.evaluate(() => window.vitrineReport.setFilters([{ column: 'channel', values: ['Online'] }]));
    assert.deepEqual(applied, [{ column: 'channel', values: ['Online'] }]);
    assert.deepEqual((await events(page, 'filtersChanged')).at(-1), { page: 'region', filters: [{ column: 'channel', values: ['Online'] }] });
    assert.match(await frame.locator('.filter-chips').textContent(), /channel: Online/);

    // The demo's timed update: every 50 minutes.
    await idle(page, 50);
    await page.waitForFunction(() => window.vitrineEvents.some((e) => e.name === 'tokenRefreshed' && e.detail.reason === 'timed update'));
    assert.equal(seen.tokenRequests, 2);

    // The timed update off: the live channel says so, the keeper takes a token with the new
    // settings at once, and that token lives its hour and then expires.
    assert.equal((await admin.patch('/api/v1/settings', { tokenUpdateEveryMinutes: null })).status, 200);
    await page.waitForFunction(() => window.vitrineEvents.some((e) => e.name === 'tokenRefreshed' && e.detail.reason === 'settings changed'));
    assert.equal(seen.tokenRequests, 3);
    await idle(page, 50);
    await idle(page, 61);
    assert.equal(seen.tokenRequests, 3, 'an idle embed without the timed update asks for nothing');
    const page2 = await page.evaluate(() => window.vitrineReport.setPage('margin'));
    assert.deepEqual(page2, { id: 'margin', title: 'Margin', active: true });
    assert.equal(seen.tokenRequests, 4, 'the expired token was replaced before the page switch');
    assert.deepEqual((await events(page, 'pageChanged')).at(-1), { page: 'margin', title: 'Margin' });
    const back = await page.evaluate(() => window.vitrineReport.setPage('region'));
    assert.equal(back.id, 'region');
    assert.match(await frame.locator('.filter-chips').textContent(), /channel: Online/, 'filters kept');
    assert.deepEqual(await page.evaluate(() => window.vitrineReport.getFilters()), [{ column: 'channel', values: ['Online'] }]);
    const pages = await page.evaluate(() => window.vitrineReport.getPages());
    assert.deepEqual(pages.map((p) => [p.id, p.active]), [['region', true], ['margin', false]]);
    const unknown = await page.evaluate(() => window.vitrineReport.setPage('nope').catch((e) => e.code));
    assert.equal(unknown, 'NotFound');
    assert.equal(seen.navigations, navigations, 'no reload');
    assert.deepEqual(await events(page, 'error'), []);
  });

  test('a definition saved while the report is open reloads its visuals in place with the filters kept, and new token settings bring a token at once', TIMEOUT, async () => {
    const { page, seen, frame } = await hostPage('bob');
    await frame.waitForSelector('#viewer[data-live="ready"]');
    const navigations = seen.navigations;
    await page.evaluate(() => window.vitrineReport.setFilters([{ column: 'channel', values: ['Online'] }]));
    const definition = (await admin.get(`/api/v1/reports/${reportId}/definition`)).body;
    definition.pages[0].visuals[0].title = 'Revenue, saved just now';
    assert.equal((await admin.put(`/api/v1/reports/${reportId}/definition`, definition)).status, 200);
    await frame.locator('.visual-title', { hasText: 'Revenue, saved just now' }).waitFor({ timeout: 2_000 });
    assert.match(await frame.locator('.filter-chips').textContent(), /channel: Online/, 'filters kept');

    const before = seen.tokenRequests;
    assert.equal((await admin.patch('/api/v1/settings', { tokenLifetimeMinutes: 45, tokenUpdateEveryMinutes: 40 })).status, 200);
    await page.waitForFunction(() => window.vitrineEvents.some((e) => e.name === 'tokenRefreshed' && e.detail.reason === 'settings changed'), null, { timeout: 2_000 });
    assert.equal(seen.tokenRequests, before + 1);
    assert.equal(seen.navigations, navigations, 'no reload');
  });

  test('a host app that takes a user\'s access away blanks their open screen within a second, with accessEnded', TIMEOUT, async () => {
    const { page, frame } = await hostPage('alice');
    await frame.waitForSelector('#viewer[data-live="ready"]');
    assert.ok((await frame.locator('.visual').count()) > 0);
    const revoked = await host.admin('/admin/users/alice/revoke');
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const answered = Date.now();
    await page.waitForFunction(() => window.vitrineEvents.some((e) => e.name === 'accessEnded'), null, { timeout: 1_000 });
    await frame.locator('.viewer-notice').waitFor({ state: 'visible', timeout: 1_000 });
    const dark = Date.now() - answered;
    assert.ok(dark <= 1_000, `dark ${dark} ms after the revocation`);
    assert.equal(await frame.locator('.visual').count(), 0, 'no data left on the screen');
    assert.equal((await events(page, 'accessEnded'))[0].code, 'NoAccess');
    await page.screenshot({ path: screenshotPath('embed-access-ended'), fullPage: true });
    // The audit names the host's user (it is written in batches, in the background).
    let audit;
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      audit = await admin.get('/api/v1/audit/tokens?user=alice');
      if (audit.body.some((e) => e.kind === 'revoked')) break;
    }
    assert.ok(audit.body.some((e) => e.kind === 'revoked' && e.user === 'identity alice'), JSON.stringify(audit.body.slice(0, 3)));
  });

  test('a page on an origin that is not allowed cannot frame the report, and the embed page ignores a message from a foreign origin', TIMEOUT, async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const embedUrl = `${server.baseUrl}/embed/reports/${reportId}`;

    // A foreign site using the SDK: the frame is refused by frame-ancestors, and the host
    // hears NotConnected instead of looking at a broken frame. Beside the report on an
    // allowed page, a foreign frame posts it a connect message with a port: ignored (not the
    // parent, not an allowed origin).
    const foreign = await foreignSite({
      '/page': `<!doctype html><div id="r"></div><script type="module">
          const { embed } = await import('${server.baseUrl}/sdk/v1/vitrine-embed.js');
          window.errors = [];
          const report = embed(document.getElementById('r'), { url: '${server.baseUrl}', reportId: '${reportId}',
            fetchToken: async () => { window.asked = true; return {}; } });
          report.on('error', (e) => window.errors.push(e.code));
        </script>`,
      '/bare': `<!doctype html><iframe id="report" src="${embedUrl}"></iframe>
          <iframe id="foreign" src="http://foreign.localhost:PORT/attacker"></iframe>`,
      '/attacker': `<!doctype html><script>
          window.heard = [];
          setInterval(() => {
            const channel = new MessageChannel();
            channel.port1.onmessage = (e) => window.heard.push(e.data);
            parent.frames[0].postMessage({ vitrine: 1, type: 'connect', settings: {} }, '*', [channel.port2]);
          }, 100);
        </script>`,
    });
    const FOREIGN = foreign.origin;
    const refused = [];
    page.on('console', (message) => refused.push(message.text()));
    await page.goto(`${FOREIGN}/page`);
    await page.waitForFunction(() => window.errors?.includes('NotConnected'), null, { timeout: 15_000 });
    assert.equal(await page.evaluate(() => window.asked ?? false), false);
    assert.ok(refused.some((text) => /frame-ancestors/.test(text)), refused.join('\n'));

    // The page beside it is on an allowed origin (another name of the same loopback site).
    const allowedSite = foreign.origin.replace('foreign.localhost', 'allowed.localhost');
    const allowed = await admin.patch('/api/v1/settings', { embedAllowedOrigins: [host.url, allowedSite] });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    await page.goto(`${allowedSite}/bare`);
    const frameAt = async (url) => {
      for (let i = 0; i < 200; i += 1) {
        const found = page.frames().find((f) => f.url() === url);
        if (found) return found;
        await page.waitForTimeout(50);
      }
      throw new Error(`no frame at ${url}: ${page.frames().map((f) => f.url()).join(', ')}`);
    };
    const report = await frameAt(embedUrl);
    const attacker = await frameAt(`${FOREIGN}/attacker`);
    await report.waitForSelector('#viewer');
    await attacker.waitForFunction(() => Array.isArray(window.heard));
    await page.waitForTimeout(1_500);
    assert.deepEqual(await attacker.evaluate(() => window.heard), []);
    assert.match(await report.locator('#viewer').textContent(), /Connecting/);
    // The allowed parent connects: the frame asks it for a token at once.
    const asked = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const channel = new MessageChannel();
          channel.port1.onmessage = (e) => resolve(e.data);
          document.getElementById('report').contentWindow.postMessage({ vitrine: 1, type: 'connect', settings: {} }, '*', [channel.port2]);
        }),
    );
    assert.equal(asked.method, 'token');
    foreign.close();
  });
});
