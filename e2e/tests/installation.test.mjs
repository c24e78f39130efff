// A new operator's first hour, in a real browser and with only the README: `vitrine serve` on
// an empty machine logs a set-up code; the set-up page creates the organization and its
// administrator; a colleague is invited by email (a real SMTP server, aiosmtpd) and chooses
// a password; a forgotten password is reset; the operator adds, suspends and deletes an
// organization.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, screenshotPath } from '../support/server.mjs';
import { startEmptyServer, startMailCatcher } from '../support/installation.mjs';
import { clickThrough, notice, open, submitSignIn } from '../support/portal.mjs';

const TIMEOUT = { timeout: 60_000 };
const PETER = { email: 'peter@initech.example', password: 'tps-reports-1999' };

/** The first link in an email that starts with `prefix`. */
function linkIn(message, prefix) {
  const start = message.indexOf(prefix);
  assert.ok(start >= 0, `no ${prefix} link in:\n${message}`);
  return message.slice(start).split(/[\s"<]/)[0];
}

describe('A fresh installation in Chromium', () => {
  let mail;
  let server;
  let browser;
  const contexts = [];

  before(async () => {
    mail = await startMailCatcher();
    server = await startEmptyServer({ smtpPort: mail.port });
    browser = await launchBrowser();
  });

  after(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.stop();
    mail?.stop();
  });

  async function newPage() {
    const context = await browser.newContext({ baseURL: server.baseUrl, viewport: { width: 1280, height: 860 } });
    contexts.push(context);
    return context.newPage();
  }

  /** Opens an emailed link and chooses `password`; returns the page, signed in. */
  async function choosePassword(link, password) {
    const page = await newPage();
    await open(page, link, { status: 200 });
    assert.ok(!page.url().includes('#'), 'the token is taken out of the address bar');
    assert.equal(await page.locator('.link-missing').isVisible(), false);
    await page.locator('input[name="password"]').fill(password);
    const response = await clickThrough(page, page.getByRole('button', { name: 'Set password and sign in' }));
    return { page, response };
  }

  let operator;

  test('the set-up page takes the logged code and creates the organization and its operator', TIMEOUT, async () => {
    const page = await newPage();
    operator = page;
    await open(page, '/setup', { status: 200 });
    await page.locator('input[name="code"]').fill('WRONG-CODE');
    await page.locator('input[name="organization"]').fill('Initech');
    await page.locator('input[name="name"]').fill('Peter Gibbons');
    await page.locator('input[name="email"]').fill(PETER.email);
    await page.locator('input[name="password"]').fill(PETER.password);
    await clickThrough(page, page.getByRole('button', { name: 'Create and sign in' }), { status: 400 });
    assert.match(await page.locator('p.flash.error').textContent(), /set-up code/);
    // The form keeps what was typed, except the password.
    assert.equal(await page.locator('input[name="organization"]').inputValue(), 'Initech');
    await page.locator('input[name="code"]').fill(server.setupCode);
    await page.locator('input[name="password"]').fill(PETER.password);
    await clickThrough(page, page.getByRole('button', { name: 'Create and sign in' }), { status: 200 });
    assert.equal(new URL(page.url()).pathname, '/installation');
    assert.deepEqual(await page.locator('main table tbody td:first-child').allTextContents(), ['Initech']);
    await page.screenshot({ path: screenshotPath('installation-after-setup'), fullPage: true });

    const again = await newPage();
    await open(again, '/setup', { status: 404 });
  });

  let milton;

  test('an administrator invites a colleague, who chooses a password by the emailed link, once', TIMEOUT, async () => {
    await open(operator, '/admin/users', { status: 200 });
    const form = operator.locator('form[action="/admin/users"]');
    await form.locator('input[name="email"]').fill('milton@initech.example');
    await form.locator('input[name="name"]').fill('Milton Waddams');
    await clickThrough(operator, form.getByRole('button', { name: 'Add user' }), { status: 201 });
    assert.match(await operator.locator('.card.secret').textContent(), /emailed to milton@initech\.example/);
    assert.match(await operator.locator('main h1').textContent(), /Invited/);

    const message = await mail.waitFor('milton@initech.example');
    assert.match(message, /Initech invites you/);
    const link = linkIn(message, `${server.baseUrl}/welcome#`);
    const shown = (await operator.locator('.invitation-link').textContent()).trim();
    assert.equal(shown, link, 'the page shows the link that was emailed');

    const chosen = await choosePassword(link, 'my-red-stapler');
    milton = chosen.page;
    assert.equal(chosen.response.status(), 200);
    assert.equal(new URL(milton.url()).pathname, '/');
    assert.equal(await milton.locator('main h1').textContent(), 'Reports');
    assert.match(await milton.locator('.account .who').textContent(), /Milton Waddams/);

    const reused = await choosePassword(link, 'someone-elses');
    assert.equal(reused.response.status(), 410);
    assert.match(await reused.page.locator('p.flash.error[role="alert"]').textContent(), /already used/);
  });

  test('My account changes the name, and a password change signs out the other sessions', TIMEOUT, async () => {
    const elsewhere = await newPage();
    await submitSignIn(elsewhere, 'milton@initech.example', 'my-red-stapler');
    await open(milton, '/account', { status: 200 });
    assert.equal(await milton.locator('main table tbody tr').count(), 2, 'two sessions listed');
    await milton.locator('form[action="/account/profile"] input[name="name"]').fill('Milton W.');
    await clickThrough(milton, milton.getByRole('button', { name: 'Save' }), { status: 200 });
    assert.equal(await notice(milton), 'Saved.');
    const password = milton.locator('form[action="/account/password"]');
    await password.locator('input[name="currentPassword"]').fill('my-red-stapler');
    await password.locator('input[name="password"]').fill('stapler-is-mine');
    await clickThrough(milton, password.getByRole('button', { name: 'Change password' }), { status: 200 });
    assert.match(await notice(milton), /other sessions were signed out/);
    assert.equal(await milton.locator('main table tbody tr').count(), 1);
    await open(elsewhere, '/', { status: 200 });
    assert.equal(await elsewhere.locator('form[action="/login"]').count(), 1, 'the other session ended');
  });

  test('"Forgot password?" sends a reset link that sets a new password', TIMEOUT, async () => {
    const page = await newPage();
    await open(page, '/', { status: 200 });
    await clickThrough(page, page.getByRole('link', { name: 'Forgot password?' }), { status: 200 });
    await page.locator('input[name="email"]').fill('milton@initech.example');
    await clickThrough(page, page.getByRole('button', { name: 'Send the link' }), { status: 200 });
    const answer = await notice(page);
    // The same words for an unknown address.
    await page.locator('input[name="email"]').fill('bob@initech.example');
    await clickThrough(page, page.getByRole('button', { name: 'Send the link' }), { status: 200 });
    assert.equal(await notice(page), answer);

    const message = await mail.waitFor('milton@initech.example', 2);
    const link = linkIn(message, `${server.baseUrl}/password/reset#`);
    const reset = await choosePassword(link, 'basement-office');
    assert.equal(reset.response.status(), 200);
    assert.equal(await reset.page.locator('main h1').textContent(), 'Reports');
    await open(milton, '/', { status: 200 });
    assert.equal(await milton.locator('form[action="/login"]').count(), 1, 'a reset signs out everywhere');
    assert.equal(mail.messagesTo('bob@initech.example').length, 0);
  });

  test('an operator adds an organization, suspends it (its people are out at once) and deletes it', TIMEOUT, async () => {
    await open(operator, '/installation', { status: 200 });
    const form = operator.locator('form[action="/installation/organizations"]');
    await form.locator('input[name="name"]').fill('Globex');
    await form.locator('input[name="adminEmail"]').fill('hank@globex.example');
    await clickThrough(operator, form.getByRole('button', { name: 'Add organization' }), { status: 201 });
    const link = (await operator.locator('.invitation-link').textContent()).trim();
    const hank = (await choosePassword(link, 'hammocks-for-all')).page;
    assert.match(await hank.locator('.org-name').textContent(), /Globex/);

    await open(operator, '/installation', { status: 200 });
    await clickThrough(operator, operator.getByRole('link', { name: 'Globex' }), { status: 200 });
    await clickThrough(operator, operator.getByRole('button', { name: 'Suspend organization' }), { status: 200 });
    assert.match(await notice(operator), /Suspended/);
    await operator.screenshot({ path: screenshotPath('installation-suspended'), fullPage: true });
    await open(hank, '/', { status: 200 });
    assert.equal(await hank.locator('form[action="/login"]').count(), 1, 'signed out at once');
    const refused = await submitSignIn(hank, 'hank@globex.example', 'hammocks-for-all');
    assert.equal(refused.status(), 403);
    assert.match(await hank.locator('p.flash.error').textContent(), /suspended/);

    const danger = operator.locator('.danger-zone form');
    await danger.locator('input[name="confirm"]').fill('Globe');
    await clickThrough(operator, danger.getByRole('button', { name: 'Delete for good' }), { status: 400 });
    await operator.locator('.danger-zone input[name="confirm"]').fill('Globex');
    await clickThrough(operator, operator.getByRole('button', { name: 'Delete for good' }), { status: 200 });
    assert.match(await notice(operator), /deleted/);
    assert.deepEqual(await operator.locator('main table tbody td:first-child').allTextContents(), ['Initech']);
    await open(operator, '/installation/audit', { status: 200 });
    const audit = await operator.locator('main table tbody').textContent();
    for (const action of ['set up', 'created', 'suspended', 'deleted']) assert.match(audit, new RegExp(action));
  });
});
