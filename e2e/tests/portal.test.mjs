// The portal in a real browser: an administrator shares a report through a new group with a
// new user, a viewer is kept out of the Admin Portal, a wrong password is refused, and a
// settings change shows up in the audit log.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ACCOUNTS, DEMO_PASSWORD, launchBrowser, screenshotPath, startDemoServer } from '../support/server.mjs';
import {
  assertNoError,
  clickThrough,
  notice,
  open,
  reportCards,
  signIn,
  submitSignIn,
} from '../support/portal.mjs';

const NORTHWIND_REPORTS = ['Executive summary', 'Regional performance', 'Sales overview', 'Warehouse operations'];

const ADMIN_PAGES = [
  '/admin',
  '/admin/users',
  '/admin/groups',
  '/admin/reports',
  '/admin/settings',
  '/admin/api-keys',
  '/admin/audit',
];

/** Every test gets well under 30 s; the whole flow takes a few seconds on a quiet machine. */
const TIMEOUT = { timeout: 30_000 };

describe('Vitrine portal in Chromium', () => {
  let server;
  let browser;
  const contexts = [];

  before(async () => {
    server = await startDemoServer();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  /** Signs in in a fresh context (own cookies), closed after the file's tests. */
  async function as(email, password) {
    const session = await signIn(browser, server.baseUrl, email, password);
    contexts.push(session.context);
    return session.page;
  }

  test('an admin shares a report with a new user through a new group; a viewer cannot open the Admin Portal', TIMEOUT, async () => {
    const newUser = { name: 'Nora Newhire', email: 'nora.newhire@example.com', password: 'welcome-to-vitrine' };
    const groupName = 'Field auditors';
    const reportName = 'Warehouse operations';

    // The admin signs in and sees every report of Northwind, none of Acme's.
    const admin = await as(ACCOUNTS.admin);
    assert.deepEqual((await reportCards(admin)).sort(), NORTHWIND_REPORTS);
    assert.match(await admin.locator('.topbar .who').textContent(), /^Ada Admin\s*Admin$/);
    await admin.screenshot({ path: screenshotPath('reports-portal-admin'), fullPage: true });

    // Admin Portal › Users: add a Viewer.
    await clickThrough(admin, admin.locator('.topnav').getByRole('link', { name: 'Admin' }), { status: 200 });
    assert.equal(new URL(admin.url()).pathname, '/admin/users', 'Admin opens on Users for an administrator');
    assert.equal(await admin.locator('main h1').textContent(), 'Users');
    const userRows = admin.locator('main table tbody tr');
    assert.equal(await userRows.count(), 5, 'the demo has five Northwind users');
    assert.equal(await userRows.filter({ hasText: newUser.email }).count(), 0);
    await admin.screenshot({ path: screenshotPath('admin-users'), fullPage: true });

    const addUser = admin.locator('form[action="/admin/users"]');
    await addUser.locator('input[name="email"]').fill(newUser.email);
    await addUser.locator('input[name="name"]').fill(newUser.name);
    await addUser.locator('select[name="role"]').selectOption('Viewer');
    await addUser.locator('input[name="password"]').fill(newUser.password);
    await clickThrough(admin, addUser.getByRole('button', { name: 'Add user' }), { status: 200 });
    await assertNoError(admin);
    const userUrl = new URL(admin.url());
    assert.match(userUrl.pathname, /^\/admin\/users\/[^/]+$/, `after Add user: ${admin.url()}`);
    assert.equal(userUrl.searchParams.get('done'), 'created');
    assert.equal(await notice(admin), 'Created.');
    assert.match(await admin.locator('main h1').textContent(), /^Nora Newhire\s+Active$/);
    assert.equal((await admin.locator('.page-head p.muted').textContent()).trim(), newUser.email);
    assert.equal(await admin.locator('select[name="role"]').inputValue(), 'Viewer');
    const userPath = userUrl.pathname;
    await admin.screenshot({ path: screenshotPath('admin-user-detail'), fullPage: true });

    await clickThrough(admin, admin.locator('nav.sidenav').getByRole('link', { name: 'Users' }), { status: 200 });
    assert.equal(await userRows.count(), 6, 'the new user is listed');
    assert.deepEqual(
      (await userRows.filter({ hasText: newUser.email }).locator('td').allTextContents()).slice(0, 4),
      [newUser.name, newUser.email, 'Viewer', 'Active'],
    );

    // Admin Portal › Groups: create a group and add the new user to it.
    await clickThrough(admin, admin.locator('nav.sidenav').getByRole('link', { name: 'Groups' }), { status: 200 });
    assert.equal(await admin.locator('main h1').textContent(), 'Groups');
    const createGroup = admin.locator('form[action="/admin/groups"]');
    await createGroup.locator('input[name="name"]').fill(groupName);
    await createGroup.locator('input[name="description"]').fill('Auditors visiting the warehouses.');
    await clickThrough(admin, createGroup.getByRole('button', { name: 'Create group' }), { status: 200 });
    await assertNoError(admin);
    const groupUrl = new URL(admin.url());
    assert.match(groupUrl.pathname, /^\/admin\/groups\/[^/]+$/, `after Create group: ${admin.url()}`);
    assert.equal(groupUrl.searchParams.get('done'), 'created');
    assert.equal(await notice(admin), 'Created.');
    assert.equal(await admin.locator('main h1').textContent(), groupName);
    assert.ok(await admin.getByText('No members yet.').isVisible());
    const groupPath = groupUrl.pathname;

    await admin.locator('select[name="userId"]').selectOption({ label: `${newUser.name} <${newUser.email}>` });
    await clickThrough(admin, admin.getByRole('button', { name: 'Add', exact: true }), { status: 200 });
    await assertNoError(admin);
    assert.equal(await notice(admin), 'Member added.');
    const members = admin.locator('main table tbody tr');
    assert.equal(await members.count(), 1);
    assert.deepEqual((await members.first().locator('td').allTextContents()).slice(0, 3), [
      newUser.name,
      newUser.email,
      'Viewer',
    ]);
    await admin.screenshot({ path: screenshotPath('admin-group-detail'), fullPage: true });

    // Admin Portal › Reports: the report is not yet granted to the group.
    await clickThrough(admin, admin.locator('nav.sidenav').getByRole('link', { name: 'Reports' }), { status: 200 });
    await clickThrough(admin, admin.locator('main table').getByRole('link', { name: reportName }), { status: 200 });
    const reportId = new URL(admin.url()).pathname.split('/').pop();
    assert.equal(await admin.locator('main h1').textContent(), reportName);
    assert.equal(await admin.locator('ul.grants li').filter({ hasText: groupName }).count(), 0);

    // The new user signs in (own browser context) and sees no report yet, and cannot open it.
    const nora = await as(newUser.email, newUser.password);
    assert.deepEqual(await reportCards(nora), []);
    assert.ok(await nora.getByRole('heading', { name: 'No reports yet' }).isVisible());
    assert.equal(await nora.locator('.topnav').getByRole('link', { name: 'Admin' }).count(), 0, 'a Viewer has no Admin link');
    await nora.screenshot({ path: screenshotPath('reports-portal-empty'), fullPage: true });
    await open(nora, `/reports/${reportId}`, { status: 403 });
    assert.equal(await nora.locator('main h1').textContent(), 'Not allowed');

    // The admin grants the report to the group.
    await admin.locator('select[name="grantee"]').selectOption({ label: groupName });
    await clickThrough(admin, admin.getByRole('button', { name: 'Grant access' }), { status: 200 });
    await assertNoError(admin);
    assert.equal(await notice(admin), 'Access granted.');
    const grant = admin.locator('ul.grants li').filter({ hasText: groupName });
    assert.equal(await grant.count(), 1, 'the group is listed among the grants');
    assert.match(await grant.textContent(), /\b1 member/, "the grant shows the group's member count");
    await admin.screenshot({ path: screenshotPath('admin-report-detail'), fullPage: true });

    // The new user now finds exactly that report, and can open it.
    await open(nora, '/', { status: 200 });
    assert.deepEqual(await reportCards(nora), [reportName]);
    await nora.screenshot({ path: screenshotPath('reports-portal-viewer'), fullPage: true });
    await clickThrough(nora, nora.locator('a.report-card').filter({ hasText: reportName }), { status: 200 });
    assert.equal(new URL(nora.url()).pathname, `/reports/${reportId}`);
    // The viewer names the report once it has loaded it.
    await nora.waitForFunction((name) => document.querySelector('.viewer-title')?.textContent === name, reportName);

    // A viewer cannot open any Admin Portal page, nor the new records' pages, nor the export.
    const vera = await as(ACCOUNTS.viewer);
    assert.equal(await vera.locator('.topnav').getByRole('link', { name: 'Admin' }).count(), 0, 'a Viewer has no Admin link');
    for (const path of [...ADMIN_PAGES, userPath, groupPath, `/admin/reports/${reportId}`]) {
      await open(vera, path, { status: 403 });
      assert.equal(await vera.locator('main h1').textContent(), 'Not allowed', `heading of ${path} for a viewer`);
      assert.equal(await vera.locator('nav.sidenav').count(), 0, `no Admin Portal navigation on ${path}`);
    }
    await vera.screenshot({ path: screenshotPath('viewer-not-allowed'), fullPage: true });
    const csv = await vera.request.get('/admin/audit/export.csv', { maxRedirects: 0 });
    assert.equal(csv.status(), 403, 'a viewer cannot export the audit log');
    // And the new user, a Viewer too, is refused in the same way.
    await open(nora, '/admin/users', { status: 403 });
  });

  test('a wrong password shows an error on the sign-in page and signs nobody in', TIMEOUT, async () => {
    const context = await browser.newContext({ baseURL: server.baseUrl });
    contexts.push(context);
    const page = await context.newPage();

    const response = await submitSignIn(page, ACCOUNTS.contributor, 'not-the-password');
    assert.equal(response.status(), 401);
    const error = page.locator('form[action="/login"] p.flash.error');
    assert.equal((await error.textContent()).trim(), 'Wrong email or password.');
    assert.ok(await error.isVisible());
    assert.equal(await page.locator('input[name="email"]').inputValue(), ACCOUNTS.contributor, 'the email is kept');
    assert.equal(await page.locator('input[name="password"]').inputValue(), '', 'the password is not echoed');
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
    await page.screenshot({ path: screenshotPath('sign-in-error'), fullPage: true });

    // An unknown email gets the very same answer.
    const unknown = await submitSignIn(page, 'nobody@example.com', DEMO_PASSWORD);
    assert.equal(unknown.status(), 401);
    assert.equal((await page.locator('p.flash.error').textContent()).trim(), 'Wrong email or password.');

    // Still signed out: the home page is the sign-in page, the Admin Portal sends there too.
    await open(page, '/', { status: 200 });
    assert.equal(await page.locator('form[action="/login"]').count(), 1);
    assert.equal(await page.locator('a.report-card').count(), 0);
    assert.equal(await page.locator('p.flash.error').count(), 0, 'the error is not shown again');
    const adminPage = await open(page, '/admin/reports', { status: 200 });
    assert.ok(adminPage.request().redirectedFrom(), 'signed out, /admin/reports redirects');
    assert.equal(new URL(page.url()).pathname, '/', 'signed out, /admin/reports leads to the sign-in page');
    assert.equal(await page.locator('form[action="/login"]').count(), 1);
    assert.equal(await page.locator('nav.sidenav').count(), 0);

    // The right password still works after one wrong one.
    const right = await submitSignIn(page, ACCOUNTS.contributor, DEMO_PASSWORD);
    assert.equal(right.status(), 200);
    assert.deepEqual((await reportCards(page)).sort(), NORTHWIND_REPORTS);
  });

  test('an admin saves a setting and finds the change in the audit log', TIMEOUT, async () => {
    const admin = await as(ACCOUNTS.admin);
    await open(admin, '/admin/settings', { status: 200 });
    assert.equal(await admin.locator('main h1').textContent(), 'Settings');
    const idle = admin.locator('input[name="sessionIdleTimeoutMinutes"]');
    assert.equal(await idle.inputValue(), '480', 'the default idle timeout');
    await idle.fill('30');
    await clickThrough(admin, admin.getByRole('button', { name: 'Save settings' }), { status: 200 });
    await assertNoError(admin);
    assert.equal(new URL(admin.url()).search, '?done=saved');
    assert.equal(await notice(admin), 'Saved.');
    assert.equal(await admin.locator('input[name="sessionIdleTimeoutMinutes"]').inputValue(), '30');
    assert.equal(await admin.locator('input[name="sessionAbsoluteTimeoutHours"]').inputValue(), '720', 'the other setting is unchanged');

    // Admin Portal › Audit log, filtered to settings changes.
    await clickThrough(admin, admin.locator('nav.sidenav').getByRole('link', { name: 'Audit log' }), { status: 200 });
    assert.equal(await admin.locator('main h1').textContent(), 'Audit log');
    await admin.locator('select[name="entityType"]').selectOption('settings');
    await admin.locator('input[name="actor"]').fill(ACCOUNTS.admin);
    await clickThrough(admin, admin.getByRole('button', { name: 'Filter' }), { status: 200 });
    assert.equal(new URL(admin.url()).searchParams.get('entityType'), 'settings');
    const rows = admin.locator('table.audit tbody tr');
    assert.equal(await rows.count(), 1, 'exactly one settings change by the admin (the demo made one before)');
    const cells = rows.first().locator('td');
    assert.equal((await cells.nth(1).textContent()).trim(), ACCOUNTS.admin, 'who changed it');
    assert.match(await cells.nth(2).textContent(), /settings\s+updated/);
    const setting = async (cell) =>
      cell.evaluate((td) =>
        Object.fromEntries([...td.querySelectorAll('dl.kv dt')].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])),
      );
    assert.equal((await setting(cells.nth(3))).sessionIdleTimeoutMinutes, '480', 'before');
    assert.equal((await setting(cells.nth(4))).sessionIdleTimeoutMinutes, '30', 'after');
    await admin.screenshot({ path: screenshotPath('admin-audit'), fullPage: true });

    // The CSV export carries the same filter and the same change.
    const exportLink = admin.getByRole('link', { name: 'Export CSV' });
    const href = await exportLink.getAttribute('href');
    assert.match(href, /^\/admin\/audit\/export\.csv\?.*entityType=settings/);
    const csv = await admin.request.get(href);
    assert.equal(csv.status(), 200);
    assert.match(csv.headers()['content-type'], /text\/csv/);
    const text = await csv.text();
    assert.match(text, /settings/);
    assert.match(text, /sessionIdleTimeoutMinutes/);
    assert.match(text, new RegExp(ACCOUNTS.admin.replace('.', '\\.')));
  });
  test('an admin turns on the timed token update and revokes every token; viewers see the policy and lose their tokens', TIMEOUT, async () => {
    const admin = await as(ACCOUNTS.admin);
    await open(admin, '/admin/settings', { status: 200 });
    const form = admin.locator('form[action="/admin/settings"]');
    assert.match(await form.textContent(), /Update Token every/);
    await form.locator('input[name="tokenUpdateEveryMinutes"]').fill('50');
    await clickThrough(admin, admin.getByRole('button', { name: 'Save settings' }), { status: 200 });
    assert.equal(await notice(admin), 'Saved.');
    assert.equal(await admin.locator('input[name="tokenUpdateEveryMinutes"]').inputValue(), '50');
    await admin.screenshot({ path: screenshotPath('admin-settings-tokens'), fullPage: true });

    // A viewer's page asks for a token the way the viewer will: session cookie + CSRF header.
    const viewer = await as(ACCOUNTS.viewer);
    const issued = await viewer.evaluate(async () => {
      const me = await (await fetch('/api/v1/me')).json();
      const reports = await (await fetch('/api/v1/reports')).json();
      const response = await fetch(`/api/v1/reports/${reports[0].id}/token`, {
        method: 'POST',
        headers: { 'X-CSRF-Token': me.csrfToken },
      });
      return { status: response.status, body: await response.json(), report: reports[0].id };
    });
    assert.equal(issued.status, 200);
    assert.deepEqual(issued.body.refresh, { everySeconds: 3000, beforeExpirySeconds: 600 });
    const embed = (token) =>
      viewer.evaluate(
        async ({ token, report }) => {
          const response = await fetch(`/api/v1/embed/reports/${report}`, { headers: { Authorization: `Bearer ${token}` } });
          return { status: response.status, code: (await response.json()).error?.code ?? null };
        },
        { token, report: issued.report },
      );
    assert.deepEqual(await embed(issued.body.token), { status: 200, code: null });

    await open(admin, '/admin/settings', { status: 200 });
    await clickThrough(admin, admin.getByRole('button', { name: 'Revoke all tokens' }), { status: 200 });
    assert.match(await notice(admin), /Tokens revoked/);
    assert.deepEqual(await embed(issued.body.token), { status: 401, code: 'TokenRevoked' });

    // Audit log › Token events shows the issue and the revocation, by whom. Events are written
    // in batches, so the page may need a moment to show the newest.
    const revokedRows = admin.locator('table.audit tbody tr').filter({ has: admin.locator('.kind-revoked') });
    for (let attempt = 0; attempt < 30 && (await revokedRows.count()) === 0; attempt += 1) {
      await admin.waitForTimeout(100);
      await open(admin, '/admin/audit/tokens', { status: 200 });
    }
    assert.equal(await revokedRows.count(), 1, 'one revocation');
    const revocation = await revokedRows.first().textContent();
    assert.match(revocation, /all tokens revoked by an administrator/);
    assert.match(revocation, /by admin@example\.com/);
    const issuedRows = admin.locator('table.audit tbody tr').filter({ has: admin.locator('.kind-issued') });
    assert.match(await issuedRows.first().textContent(), /viewer@example\.com/);
    await admin.screenshot({ path: screenshotPath('admin-token-events'), fullPage: true });
  });
});
