// Small steps shared by the portal tests: signing in, opening a page and submitting a form,
// each checking the HTTP status of the page the browser ends up on.

import assert from 'node:assert/strict';

import { DEMO_PASSWORD } from './server.mjs';

/**
 * Opens `path` and returns the main document's response; asserts its status when `status`
 * is given.
 */
export async function open(page, path, { status } = {}) {
  const response = await page.goto(path);
  assert.ok(response, `no response for ${path}`);
  if (status !== undefined) {
    assert.equal(response.status(), status, `GET ${path} answered ${response.status()}, expected ${status}`);
  }
  return response;
}

/**
 * Clicks a link or a submit button and waits for the page it leads to, following redirects
 * (post/redirect/get). Returns the final document response; asserts its status when `status`
 * is given.
 */
export async function clickThrough(page, target, { status } = {}) {
  const final = page.waitForResponse(
    (response) =>
      response.request().isNavigationRequest() &&
      response.frame() === page.mainFrame() &&
      !(response.status() >= 300 && response.status() < 400),
  );
  await target.click();
  const response = await final;
  await page.waitForLoadState('domcontentloaded');
  if (status !== undefined) {
    assert.equal(
      response.status(),
      status,
      `${response.request().method()} ${new URL(response.url()).pathname} answered ${response.status()}, expected ${status}`,
    );
  }
  return response;
}

/** Fills the sign-in form on `/` and submits it; returns the response of the page shown after. */
export async function submitSignIn(page, email, password) {
  await open(page, '/', { status: 200 });
  const form = page.locator('form[action="/login"]');
  await form.locator('input[name="email"]').fill(email);
  await form.locator('input[name="password"]').fill(password);
  return clickThrough(page, form.getByRole('button', { name: 'Sign in' }));
}

/**
 * A fresh browser context (its own cookies) signed in as `email`, on the Reports Portal.
 * Returns `{ context, page }`.
 */
export async function signIn(browser, baseUrl, email, password = DEMO_PASSWORD) {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  await submitSignIn(page, email, password).then((response) =>
    assert.equal(response.status(), 200, `signing in as ${email} answered ${response.status()}`),
  );
  assert.equal(new URL(page.url()).pathname, '/', 'signing in leads to the Reports Portal');
  assert.equal(await page.locator('main h1').textContent(), 'Reports');
  assert.ok(await page.getByRole('button', { name: 'Sign out' }).isVisible(), 'a signed-in page offers Sign out');
  return { context, page };
}

/** The report names on the Reports Portal, as shown on the cards. */
export async function reportCards(page) {
  return (await page.locator('a.report-card strong').allTextContents()).map((text) => text.trim());
}

/** The notice (`p.flash.notice`) shown after a successful form post. */
export async function notice(page) {
  const flash = page.locator('p.flash.notice');
  assert.equal(await flash.count(), 1, `expected one notice on ${page.url()}`);
  return (await flash.textContent()).trim();
}

/** Fails with the page's error message when a form post showed one. */
export async function assertNoError(page) {
  const errors = await page.locator('p.flash.error').allTextContents();
  assert.deepEqual(errors, [], `unexpected error on ${page.url()}`);
}
