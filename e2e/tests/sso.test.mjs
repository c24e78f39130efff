// Single sign-on with a real OpenID provider (npm `oidc-provider`, certified), in Chromium:
// a person of Acme signs in through the provider, gets an account just in time with the groups
// the provider names, loses an open report within a second when the provider takes a group
// away; forged ID tokens (a tampered signature, another sign-in's nonce, another application's
// audience, an expired one, one signed by a key the provider never published) are refused; a
// rotated provider key is read again; an organization that requires single sign-on refuses
// passwords.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ACCOUNTS, launchBrowser, screenshotPath, startDemoServer } from '../support/server.mjs';
import { signInAtProvider, startProvider } from '../support/oidc.mjs';
import { apiSession, keepCapacitiesOn } from '../support/viewer.mjs';
import { reportCards } from '../support/portal.mjs';

const TIMEOUT = { timeout: 60_000 };
const DOMAIN = 'acme.example.com';

describe('Single sign-on', () => {
  let browser;
  let server;
  let provider;
  let acmeAdmin;
  let operator;
  let readers;
  let report;

  before(async () => {
    browser = await launchBrowser();
    server = await startDemoServer({});
    provider = await startProvider({
      redirectUri: `${server.baseUrl}/auth/oidc/callback`,
      people: {
        [`ana@${DOMAIN}`]: { name: 'Ana Lytic', groups: ['bi-readers', 'unrelated'] },
        [`ben@${DOMAIN}`]: { name: 'Ben Forge', groups: [] },
      },
    });
    operator = await apiSession(server.baseUrl, ACCOUNTS.admin);
    acmeAdmin = await apiSession(server.baseUrl, ACCOUNTS.acmeAdmin);
    await keepCapacitiesOn(acmeAdmin);
    const group = await acmeAdmin.post('/api/v1/groups', { name: 'BI readers' });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    readers = group.body.id;
    const reports = await acmeAdmin.get('/api/v1/reports');
    report = reports.body.find((r) => r.name === 'Acme KPIs').id;
    assert.equal((await acmeAdmin.put(`/api/v1/reports/${report}/access/groups/${readers}`)).status, 204);

    const configured = await acmeAdmin.put('/api/v1/sso', {
      preset: 'generic',
      issuer: provider.issuer,
      clientId: provider.clientId,
      clientSecret: provider.clientSecret,
      scopes: ['openid', 'email', 'profile', 'groups'],
      domains: [DOMAIN],
      groupsClaim: 'groups',
      groups: { 'bi-readers': readers },
    });
    assert.equal(configured.status, 200, JSON.stringify(configured.body));
    assert.equal(configured.body.clientSecret, undefined, 'the secret is never answered back');
    assert.equal(configured.body.redirectUri, `${server.baseUrl}/auth/oidc/callback`);
    assert.deepEqual(configured.body.domains, [{ domain: DOMAIN, verified: false }], 'an administrator cannot vouch for a domain');
    const orgs = await operator.get('/api/v1/installation/organizations');
    const acme = orgs.body.find((o) => o.name === 'Acme Corporation');
    const verified = await operator.post(`/api/v1/installation/organizations/${acme.id}/sso-domains/${DOMAIN}/verify`);
    assert.equal(verified.status, 204, JSON.stringify(verified.body));
  });
  after(async () => {
    await browser?.close();
    await provider?.stop();
    await server?.stop();
  });

  /** A fresh context that signs in as `login` from Vitrine's sign-in page through the provider. */
  async function ssoSignIn(login) {
    const context = await browser.newContext({ baseURL: server.baseUrl, viewport: { width: 1280, height: 860 } });
    await context.route('https://fonts.googleapis.com/**', (route) => route.abort());
    const page = await context.newPage();
    await page.goto('/');
    await page.locator('input[name="email"]').fill(login);
    await page.getByRole('button', { name: 'Continue with single sign-on' }).click();
    // The organization's page, found by the email's domain.
    assert.match(await page.locator('.sso-org h2').textContent(), /Acme Corporation/);
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await signInAtProvider(page, provider.issuer, login);
    return { context, page };
  }

  /** Opens the report; resolves once its live channel listens (Acme's report has no pages). */
  async function openLive(page) {
    const response = await page.goto(`/reports/${report}`);
    assert.equal(response.status(), 200);
    await page.waitForSelector('#viewer[data-live="ready"]');
  }

  async function signedIn(page) {
    return page.getByRole('button', { name: 'Sign out' }).isVisible();
  }

  async function acmeUser(email) {
    const users = await acmeAdmin.get('/api/v1/users');
    return users.body.find((u) => u.email === email);
  }

  test('a new person signs in through the provider, gets an account at once with the groups it names, and sees what the group may', TIMEOUT, async () => {
    assert.equal(await acmeUser(`ana@${DOMAIN}`), undefined, 'no account before');
    const { context, page } = await ssoSignIn(`ana@${DOMAIN}`);
    assert.equal(new URL(page.url()).pathname, '/');
    assert.ok(await signedIn(page), 'signed in on the Reports Portal');
    await page.screenshot({ path: screenshotPath('sso-signed-in') });
    const ana = await acmeUser(`ana@${DOMAIN}`);
    assert.equal(ana.name, 'Ana Lytic');
    assert.equal(ana.role, 'Viewer', 'the default role');
    const members = await acmeAdmin.get(`/api/v1/groups/${readers}`);
    assert.ok(JSON.stringify(members.body).includes(ana.id), 'a member of the group the claim maps to');
    assert.deepEqual(await reportCards(page), ['Acme KPIs'], 'the report the group may see');
    await openLive(page);
    await context.close();
  });

  test('a person whose session ends signs in again through the provider from the report and comes back to it', TIMEOUT, async () => {
    const { context, page } = await ssoSignIn(`ana@${DOMAIN}`);
    await openLive(page);
    // The session is gone (cookies cleared) and the tokens are taken back: the viewer asks for
    // a new token, is told to sign in, and offers the organization's provider.
    await context.clearCookies();
    const ana = await acmeUser(`ana@${DOMAIN}`);
    assert.equal((await acmeAdmin.post(`/api/v1/users/${ana.id}/revoke-tokens`)).status, 204);
    const notice = page.locator('.viewer-notice');
    await notice.waitFor({ state: 'visible', timeout: 5_000 });
    assert.match(await notice.locator('h2').textContent(), /Your session has ended/);
    await page.screenshot({ path: screenshotPath('sso-session-ended') });
    await notice.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await signInAtProvider(page, provider.issuer, `ana@${DOMAIN}`);
    assert.equal(new URL(page.url()).pathname, `/reports/${report}`, 'back at the report');
    await page.waitForSelector('#viewer[data-live="ready"]');
    await context.close();
  });

  test('a group the provider takes away at the next sign-in takes the open report off the screen within a second', TIMEOUT, async () => {
    const login = `ana@${DOMAIN}`;
    const first = await ssoSignIn(login);
    await openLive(first.page);

    provider.people[login].groups = ['unrelated'];
    const second = await ssoSignIn(login);
    assert.ok(await signedIn(second.page));
    const started = Date.now();
    const notice = first.page.locator('.viewer-notice');
    await notice.waitFor({ state: 'visible', timeout: 1_500 });
    const took = Date.now() - started;
    assert.ok(took < 1_500, `the report left ${took} ms after the sign-in`);
    assert.match(await notice.textContent(), /access to this report was removed/i);
    const members = await acmeAdmin.get(`/api/v1/groups/${readers}`);
    assert.ok(!JSON.stringify(members.body).includes((await acmeUser(login)).id), 'no longer a member');
    await first.context.close();
    await second.context.close();
  });

  for (const [what, forge, reason] of [
    ['a tampered signature', async () => ({ tamper: true }), /its signature is not the provider's/],
    ['the nonce of another sign-in', async (claims) => ({ ...claims, nonce: 'another-sign-in' }), /it belongs to another sign-in/],
    ['another application as audience', async (claims) => ({ ...claims, aud: 'another-app' }), /issued for another application/],
    ['an expiry in the past', async (claims) => ({ ...claims, iat: claims.iat - 7200, exp: claims.iat - 3600 }), /it has expired/],
    ['a key the provider never published', async (claims) => ({ claims, key: await provider.strangerKey() }), /a key the provider does not publish/],
  ]) {
    test(`an ID token with ${what} is refused and nobody is signed in`, TIMEOUT, async () => {
      provider.forgeNext(async (claims, idToken) => {
        const result = await forge(claims);
        if (result.tamper) {
          // Claims changed after signing: another person's email, the provider's signature kept.
          const [header, , signature] = idToken.split('.');
          const payload = Buffer.from(JSON.stringify({ ...claims, email: ACCOUNTS.acmeAdmin, sub: ACCOUNTS.acmeAdmin })).toString('base64url');
          return { raw: `${header}.${payload}.${signature}` };
        }
        return result;
      });
      const { context, page } = await ssoSignIn(`ben@${DOMAIN}`);
      assert.equal(await signedIn(page), false, 'not signed in');
      const message = await page.locator('.flash.error').textContent();
      assert.match(message, /ID token was refused/);
      assert.match(message, reason);
      await page.goto('/');
      assert.equal(await signedIn(page), false, 'no session was made');
      assert.equal(await acmeUser(`ben@${DOMAIN}`), undefined, 'no account was made');
      await context.close();
    });
  }

  test('a provider that rotated its signing key is read again, and the code is exchanged once', TIMEOUT, async () => {
    const kid = await provider.rotate();
    assert.equal(kid, 'key-2');
    const before = provider.counters.tokenRequests;
    const { context, page } = await ssoSignIn(`ana@${DOMAIN}`);
    assert.ok(await signedIn(page), 'signed in with a token signed by the new key');
    assert.equal(provider.counters.tokenRequests - before, 1, 'one code exchange');
    await context.close();
  });

  test("an administrator's own provider cannot sign in as an operator of the organization", TIMEOUT, async () => {
    // A second administrator of Northwind (not an operator) points Northwind at a provider
    // they control, with no verified domain: it vouches for the operator's email.
    const created = await operator.post('/api/v1/users', { email: 'second-admin@example.com', role: 'Admin', password: 'second-admin-password' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const second = await apiSession(server.baseUrl, 'second-admin@example.com', 'second-admin-password');
    const configured = await second.put('/api/v1/sso', { issuer: provider.issuer, clientId: provider.clientId, clientSecret: provider.clientSecret });
    assert.equal(configured.status, 200, JSON.stringify(configured.body));
    const orgs = await operator.get('/api/v1/installation/organizations');
    const northwind = orgs.body.find((o) => o.name !== 'Acme Corporation' && o.usage.users > 1);

    const context = await browser.newContext({ baseURL: server.baseUrl });
    await context.route('https://fonts.googleapis.com/**', (route) => route.abort());
    const page = await context.newPage();
    await page.goto(`/sso/${northwind.id}`);
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await signInAtProvider(page, provider.issuer, ACCOUNTS.admin);
    assert.equal(await signedIn(page), false, 'not signed in as the operator');
    assert.match(await page.locator('.flash.error').textContent(), /operator's account signs in through single sign-on only once an operator verified example\.com/);
    await context.close();
    assert.equal((await second.delete('/api/v1/sso')).status, 204);
  });

  test('an organization that requires single sign-on refuses passwords and sends the sign-in form to its provider', TIMEOUT, async () => {
    const required = await acmeAdmin.put('/api/v1/sso', { required: true });
    assert.equal(required.status, 200, JSON.stringify(required.body));
    const refused = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: ACCOUNTS.acmeAdmin, password: 'e2e-demo-password' }),
    });
    assert.equal(refused.status, 403);
    assert.equal((await refused.json()).error.code, 'SsoRequired');

    // The sign-in form with a password goes to the provider instead, and the existing account
    // signs in there (found by its email, linked from then on).
    const context = await browser.newContext({ baseURL: server.baseUrl });
    await context.route('https://fonts.googleapis.com/**', (route) => route.abort());
    const page = await context.newPage();
    await page.goto('/');
    await page.locator('input[name="email"]').fill(ACCOUNTS.acmeAdmin);
    await page.locator('input[name="password"]').fill('e2e-demo-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    assert.match(await page.locator('.sso-org').textContent(), /Sign in as admin@acme\.example\.com/);
    assert.equal(await page.getByRole('link', { name: 'Sign in with a password instead' }).count(), 0, 'no password when required');
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await signInAtProvider(page, provider.issuer, ACCOUNTS.acmeAdmin);
    assert.ok(await signedIn(page), 'signed in through the provider');
    await context.close();

    // Operators are never locked out by an organization's setting.
    const operatorLogin = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: ACCOUNTS.admin, password: 'e2e-demo-password' }),
    });
    assert.equal(operatorLogin.status, 200);
    assert.equal((await acmeAdmin.put('/api/v1/sso', { required: false })).status, 200);
  });
});
